// The session terminal's connection against a real WebSocket server on 127.0.0.1.
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, test } from "node:test";

import { WebSocket, WebSocketServer } from "ws";

import type { TerminalDescriptor } from "../src/protocol";
import { TerminalConnection } from "../src/terminal/connection";

const FAST = { initialDelayMs: 20, maxDelayMs: 40, maxAttempts: 3, stableAfterMs: 60_000 };

interface Received {
  socket: WebSocket;
  headers: Record<string, string | string[] | undefined>;
  messages: unknown[];
}

/** Collects what the connection writes; waits are driven by its events, never by sleeping. */
class Screen {
  text = "";
  private waiters: (() => void)[] = [];

  write = (chunk: string): void => {
    this.text += chunk;
    this.poke();
  };

  poke(): void {
    for (const waiter of this.waiters) waiter();
  }

  waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out waiting for ${what}; screen: ${JSON.stringify(this.text)}`));
      }, timeoutMs);
      const check = (): void => {
        if (!predicate()) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((waiter) => waiter !== check);
        resolve();
      };
      this.waiters.push(check);
      check();
    });
  }
}

const out = (text: string): string =>
  JSON.stringify({ type: "out", data: Buffer.from(text).toString("base64") });

let server: WebSocketServer;
let received: Received[];
let screen: Screen;
let descriptors: number;
let connection: TerminalConnection | undefined;

function nth(index: number): Received {
  const entry = received[index];
  if (entry === undefined) assert.fail(`no connection #${index}`);
  return entry;
}

let asked: number[];

function descriptor(since: number): Promise<TerminalDescriptor> {
  descriptors += 1;
  asked.push(since);
  const { port } = server.address() as AddressInfo;
  return Promise.resolve({
    url: `ws://127.0.0.1:${port}/stream/session/s1/pty`,
    headers: { Authorization: `BackendAI signMethod=HMAC-SHA256, credential=AK:${descriptors}` },
    expiresIn: 840,
    sessionName: "s1",
  });
}

function connect(
  source: (since: number) => Promise<TerminalDescriptor | null> = descriptor,
): TerminalConnection {
  connection = new TerminalConnection(
    source,
    { write: screen.write, debug: () => undefined },
    FAST,
  );
  void connection.start({ rows: 24, columns: 80 });
  return connection;
}

beforeEach(async () => {
  received = [];
  screen = new Screen();
  descriptors = 0;
  asked = [];
  server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  server.on("connection", (socket, request) => {
    const entry: Received = { socket, headers: request.headers, messages: [] };
    received.push(entry);
    socket.on("message", (data: Buffer) => {
      entry.messages.push(JSON.parse(data.toString("utf8")));
      screen.poke();
    });
    screen.poke();
  });
  await new Promise((resolve) => {
    server.once("listening", resolve);
  });
});

afterEach(async () => {
  connection?.close();
  connection = undefined;
  for (const client of server.clients) client.terminate();
  await new Promise((resolve) => {
    server.close(resolve);
  });
});

test("text and binary frames reach the screen; size and keys reach the server", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  const first = received[0];
  assert.ok(first);
  assert.equal(first.headers.authorization, "BackendAI signMethod=HMAC-SHA256, credential=AK:1");
  await screen.waitFor("the window size", () => first.messages.length >= 1);
  assert.deepEqual(first.messages[0], { type: "resize", rows: 24, cols: 80 });
  first.socket.send(out("text frame\r\n"));
  first.socket.send(Buffer.from(out("binary frame €\r\n")), { binary: true });
  await screen.waitFor("both frames", () => screen.text.includes("binary frame €"));
  assert.ok(screen.text.indexOf("text frame") < screen.text.indexOf("binary frame"));
  terminal.input("ls\r");
  terminal.resize({ rows: 30, columns: 100 });
  await screen.waitFor("stdin and resize", () => first.messages.length >= 3);
  assert.deepEqual(first.messages.slice(1), [
    { type: "stdin", chars: Buffer.from("ls\r").toString("base64") },
    { type: "resize", rows: 30, cols: 100 },
  ]);
});

test("a dropped connection reconnects with a fresh descriptor and keeps the screen", async () => {
  connect();
  await screen.waitFor("a connection", () => received.length === 1);
  nth(0).socket.send(out("before the drop\r\n"));
  await screen.waitFor("output", () => screen.text.includes("before the drop"));
  nth(0).socket.terminate(); // no close frame: an abnormal closure (1006)
  await screen.waitFor("a visible note", () => screen.text.includes("connection lost"));
  await screen.waitFor("the second connection", () => received.length === 2);
  await screen.waitFor("the reconnected note", () => screen.text.includes("reconnected to s1"));
  assert.equal(nth(1).headers.authorization, "BackendAI signMethod=HMAC-SHA256, credential=AK:2");
  nth(1).socket.send(out("after\r\n"));
  await screen.waitFor("new output", () => screen.text.includes("after"));
  assert.ok(screen.text.includes("before the drop"));
  for (const clear of ["\x1b[2J", "\x1b[3J", "\x1bc"]) assert.ok(!screen.text.includes(clear)); // kept
  await screen.waitFor("the size sent again", () => nth(1).messages.length >= 1);
  assert.deepEqual(nth(1).messages[0], { type: "resize", rows: 24, cols: 80 });
});

const replay = (text: string, from: number): string =>
  JSON.stringify({
    type: "out",
    data: Buffer.from(text).toString("base64"),
    replay: { from, to: from + Buffer.byteLength(text) },
  });

test("a re-attach asks for the output after what was shown and shows the replay", async () => {
  connect();
  await screen.waitFor("a connection", () => received.length === 1);
  nth(0).socket.send(replay("", 100)); // where the terminal's output stands: 100 bytes
  nth(0).socket.send(out("seen €\r\n")); // 10 bytes
  await screen.waitFor("output", () => screen.text.includes("seen €"));
  nth(0).socket.terminate();
  await screen.waitFor("the second connection", () => received.length === 2);
  assert.deepEqual(asked, [-1, 110]);
  nth(1).socket.send(replay("missed\r\n", 110));
  nth(1).socket.send(out("live\r\n"));
  await screen.waitFor("live output", () => screen.text.includes("live"));
  const shown = screen.text;
  assert.ok(shown.indexOf("seen") < shown.indexOf("missed"));
  assert.ok(shown.indexOf("missed") < shown.indexOf("live"));
  assert.ok(!shown.includes("not kept"));
  nth(1).socket.terminate(); // a replay that starts later: what is no longer kept is told
  await screen.waitFor("the third connection", () => received.length === 3);
  assert.equal(asked[2], 124); // 110 + 8 + 6
  nth(2).socket.send(replay("tail\r\n", 130));
  await screen.waitFor("the loss told", () => screen.text.includes("6 bytes of output"));
});

test("a server without scrollback: the re-attach says output was not kept", async () => {
  connect();
  await screen.waitFor("a connection", () => received.length === 1);
  nth(0).socket.send(out("no offsets here\r\n"));
  await screen.waitFor("output", () => screen.text.includes("no offsets here"));
  nth(0).socket.terminate();
  await screen.waitFor("the note", () => screen.text.includes("was not kept"));
  assert.deepEqual(asked, [-1, -1]);
});

test("a normal close (the shell exited) waits for a key, then reconnects", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  nth(0).socket.close(1000);
  await screen.waitFor("the note", () => screen.text.includes("Press any key to reconnect"));
  assert.equal(received.length, 1);
  terminal.input("x");
  await screen.waitFor("a reconnection", () => received.length === 2);
  await screen.waitFor("the reconnected note", () => screen.text.includes("reconnected"));
});

test("a restart of the session re-attaches the terminal by itself", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  terminal.restarting();
  nth(0).socket.close(1000); // the restart ended the shell
  await screen.waitFor("the note", () => screen.text.includes("re-attaches when it is back"));
  assert.ok(!screen.text.includes("Press any key"));
  assert.equal(received.length, 1);
  terminal.restarted();
  await screen.waitFor("a reconnection", () => received.length === 2);
  await screen.waitFor("the reconnected note", () => screen.text.includes("reconnected to s1"));
});

test("attaching to another session moves the terminal to its shell", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  const closed = new Promise((resolve) => {
    nth(0).socket.once("close", resolve);
  });
  terminal.moved();
  await closed; // the old session's shell is left
  await screen.waitFor("the new connection", () => received.length === 2);
  assert.equal(nth(1).headers.authorization, "BackendAI signMethod=HMAC-SHA256, credential=AK:2");
  assert.ok(screen.text.includes("moved to another session"));
  assert.ok(!screen.text.includes("connection lost")); // not taken for a drop
  nth(1).socket.send(out("new shell\r\n"));
  await screen.waitFor("its output", () => screen.text.includes("new shell"));
});

test("a destroyed session: the terminal waits for the next one and attaches to its shell", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  nth(0).socket.send(replay("old$ ", 0));
  await screen.waitFor("the old prompt", () => screen.text.includes("old$ "));
  terminal.ending(); // the status said "destroying"
  nth(0).socket.terminate(); // a manager cancels the socket: however it closes, no retry
  await screen.waitFor("the note", () => screen.text.includes("attaches to the next session"));
  terminal.ended(); // "terminated": already said
  assert.equal(screen.text.split("the session ended").length, 2);
  terminal.started(); // a new session is running
  await screen.waitFor("a connection to it", () => received.length === 2);
  assert.deepEqual(asked, [-1, 0]); // all of the new shell's output, its prompt too
  nth(1).socket.send(replay("new$ ", 0));
  await screen.waitFor("the new prompt, no key pressed", () => screen.text.endsWith("new$ "));
  assert.ok(screen.text.includes("attached to s1"));
  for (const wrong of ["connection lost", "Press any key to reconnect", "not kept", "bytes of"])
    assert.ok(!screen.text.includes(wrong), wrong);
  assert.equal(asked.length, 2);
});

test("a shell ended before the session's end was told: the note is corrected", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  nth(0).socket.close(1000); // the destroy's close came before the status
  await screen.waitFor("the usual note", () => screen.text.includes("Press any key"));
  terminal.ended();
  await screen.waitFor("the note", () => screen.text.includes("attaches to the next session"));
  terminal.moved(); // the next session has another id
  await screen.waitFor("a connection to it", () => received.length === 2);
  assert.deepEqual(asked, [-1, 0]);
  assert.ok(screen.text.includes("a new session started"));
});

test("after the session ended, a key starts a new one and attaches to its shell", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  nth(0).socket.send(replay("old$ ", 40));
  await screen.waitFor("the old prompt", () => screen.text.includes("old$ "));
  const closed = new Promise((resolve) => {
    nth(0).socket.once("close", resolve);
  });
  terminal.ended(); // the socket is still open (a manager that has not closed it yet)
  await closed; // the ended session's shell is left
  terminal.input("x");
  await screen.waitFor("a connection", () => received.length === 2);
  assert.deepEqual(asked, [-1, 0]);
  assert.ok(screen.text.includes("starting a new session"));
  await screen.waitFor("attached", () => screen.text.includes("attached to s1"));
});

test("a restart that leaves the shell alone leaves the terminal alone", async () => {
  const terminal = connect();
  await screen.waitFor("a connection", () => received.length === 1);
  terminal.restarting();
  terminal.restarted();
  nth(0).socket.close(1000); // later, the shell exits: a key is awaited as usual
  await screen.waitFor("the note", () => screen.text.includes("Press any key to reconnect"));
  assert.equal(received.length, 1);
});

test("an unavailable session is retried, then left to the person", async () => {
  let calls = 0;
  const terminal = connect((since) => {
    calls += 1;
    return Promise.resolve(calls <= 4 ? null : descriptor(since));
  });
  await screen.waitFor("giving up", () => screen.text.includes("gave up retrying"));
  assert.equal(calls, 4); // the first try and three retries
  assert.equal(received.length, 0);
  terminal.input("\r");
  await screen.waitFor("a connection after the key", () => received.length === 1);
});

test("keys typed while connecting are sent once the connection opens", async () => {
  const terminal = connect();
  terminal.input("echo early\r");
  await screen.waitFor("a connection", () => received.length === 1);
  await screen.waitFor("the early keys", () => nth(0).messages.length >= 2);
  assert.deepEqual(nth(0).messages[1], {
    type: "stdin",
    chars: Buffer.from("echo early\r").toString("base64"),
  });
});
