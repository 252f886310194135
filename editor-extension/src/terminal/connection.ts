// The session terminal's connection, without VS Code: a WebSocket to the session's PTY opened
// with a fresh signed descriptor each time, output decoded (text or binary frames), window
// size and keep-alive pings sent, and a dropped connection retried with a visible note.
// The screen is never cleared: what was shown stays. Each connection asks for the output
// after the bytes already shown (`since`); a server that keeps scrollback (the embedded one)
// replays what was missed first, so the screen goes on where it stopped. A manager keeps
// none: after a re-attach there, a note says output while disconnected was not kept.
// The session's own life is told from outside (its status): a restart or a destroy ends its
// shell, which is then no drop to retry; after a destroy the terminal waits for the next
// session and attaches to its shell by itself.
import WebSocket from "ws";

import type { TerminalDescriptor } from "../protocol";
import {
  type ReplaySpan,
  TerminalDecoder,
  decodeFrame,
  encodePing,
  encodeResize,
  encodeStdin,
} from "./frames";
import { type ReconnectOptions, ReconnectPolicy, isFinalClose } from "./reconnect";

/** Resolves null when the server could not reach the session (it says why itself).
 * `since`: the bytes of the terminal's output shown so far, -1 when not known. */
export type DescriptorSource = (since: number) => Promise<TerminalDescriptor | null>;

export interface ConnectionEvents {
  /** Terminal output, or a note for the person (already styled). */
  write(text: string): void;
  /** Diagnostics for the log, never shown in the terminal. */
  debug(message: string): void;
}

export interface Size {
  rows: number;
  columns: number;
}

const MAX_PENDING = 64 * 1024;

export const note = (text: string): string => `\r\n\x1b[2;33m[Backend.AI] ${text}\x1b[0m\r\n`;

export class TerminalConnection {
  private socket: WebSocket | undefined;
  private size: Size | undefined;
  private readonly policy: ReconnectPolicy;
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private waitingForKey = false;
  private closed = false;
  /** The session is restarting: its shell ends with it, which is no reason to give up. */
  private sessionRestarting = false;
  private lostToRestart = false;
  /** The session is being destroyed: the end of its shell is no drop either. */
  private sessionEnding = false;
  /** The session is gone: the next one's shell is attached when it starts (or a key starts one). */
  private awaitingSession = false;
  /** Counts the sockets let go of: a descriptor asked for before is not opened. */
  private generation = 0;
  private connections = 0;
  /** Keys typed while (re)connecting. */
  private pending = "";
  /** Bytes of the terminal's output shown, once a server's replay frame told where it stands. */
  private offset: number | undefined;
  /** Attaching to another session's shell: all of its output kept is shown (its prompt too,
   * printed before the attach), and its bytes are counted afresh. */
  private otherShell = false;

  constructor(
    private readonly descriptor: DescriptorSource,
    private readonly events: ConnectionEvents,
    reconnect?: ReconnectOptions,
    private readonly pingIntervalMs = 30_000,
  ) {
    this.policy = new ReconnectPolicy(reconnect);
  }

  /** Connect for the first time. */
  start(size: Size | undefined): Promise<void> {
    this.size = size;
    this.events.write("\x1b[2m[Backend.AI] connecting to the session terminal…\x1b[0m\r\n");
    return this.connect();
  }

  /** Keys typed by the person; after the retries gave up, any key reconnects. */
  input(data: string): void {
    if (this.waitingForKey) {
      this.events.write(note(this.awaitingSession ? "starting a new session…" : "reconnecting…"));
      this.waitingForKey = this.awaitingSession = false;
      this.policy.reset();
      void this.connect();
      return;
    }
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(encodeStdin(data));
    else if (this.pending.length + data.length <= MAX_PENDING) this.pending += data; // sent on open
  }

  resize(size: Size): void {
    this.size = size;
    this.sendResize();
  }

  /** The session is being restarted: a close from now on waits for it, not for a key. */
  restarting(): void {
    this.sessionRestarting = true;
  }

  /** The session is back: re-attach if the restart took the shell, or a key was awaited. */
  restarted(): void {
    this.sessionRestarting = false;
    if (this.closed || !(this.lostToRestart || this.waitingForKey)) return;
    this.lostToRestart = this.waitingForKey = false;
    this.policy.reset();
    this.events.write(note("the session restarted; re-attaching…"));
    void this.connect();
  }

  /** The editor now works in another session: leave this one's shell, open the new one's. */
  moved(): void {
    if (this.closed) return;
    const why = this.awaitingSession
      ? "a new session started"
      : "the editor moved to another session";
    this.leave();
    this.forgetShell();
    this.events.write(note(`${why}; attaching to its terminal…`));
    void this.connect();
  }

  /** The session is being destroyed: a close from now on is its end, not a drop. */
  ending(): void {
    this.sessionEnding = true;
  }

  /** The session is gone (destroyed, or terminated from outside): leave its shell, retry
   * nothing (a retry would start a new session), and wait for the next session. */
  ended(): void {
    this.sessionEnding = this.sessionRestarting = false;
    if (this.closed || this.awaitingSession) return;
    this.leave();
    this.forgetShell();
    this.awaitingSession = this.waitingForKey = true;
    this.events.write(
      note(
        "the session ended; this terminal attaches to the next session when it starts. " +
          "Press any key to start one now.",
      ),
    );
  }

  /** The session is running (again): attach to its shell if the last one ended. */
  started(): void {
    if (this.awaitingSession) this.moved();
  }

  close(): void {
    this.closed = true;
    this.stopTimers();
    this.socket?.close(1000);
    this.socket = undefined;
  }

  /** Let go of the current socket (its close is no drop to recover from) and of any retry. */
  private leave(): void {
    const old = this.socket;
    this.socket = undefined;
    this.generation += 1;
    this.stopTimers();
    old?.close(1000);
    this.waitingForKey = this.lostToRestart = this.awaitingSession = false;
    this.sessionEnding = this.sessionRestarting = false;
    this.policy.reset();
  }

  /** What comes next is another shell: the count of the old one's output means nothing. */
  private forgetShell(): void {
    this.offset = undefined;
    this.otherShell = true;
  }

  private async connect(): Promise<void> {
    const generation = this.generation;
    let descriptor: TerminalDescriptor | null;
    try {
      descriptor = await this.descriptor(this.offset ?? (this.otherShell ? 0 : -1));
    } catch (error) {
      if (generation === this.generation)
        this.onDropped(0, 1011, `could not reach the session: ${errorMessage(error)}`);
      return;
    }
    if (this.closed || generation !== this.generation) return; // let go of meanwhile
    if (descriptor === null) {
      this.onDropped(0, 1011, "the session is not available");
      return;
    }
    this.open(descriptor);
  }

  private open(descriptor: TerminalDescriptor): void {
    const socket = new WebSocket(descriptor.url, {
      headers: descriptor.headers,
      perMessageDeflate: false,
    });
    this.socket = socket;
    const decoder = new TerminalDecoder();
    let openedAt = 0;
    socket.on("open", () => {
      openedAt = Date.now();
      this.connections += 1;
      if (this.otherShell) {
        this.events.write(note(`attached to ${descriptor.sessionName}`));
      } else if (this.connections > 1) {
        const missed = this.offset === undefined ? "; output while disconnected was not kept" : "";
        this.events.write(note(`reconnected to ${descriptor.sessionName}${missed}`));
      }
      this.otherShell = false;
      this.sendResize();
      if (this.pending !== "") socket.send(encodeStdin(this.pending));
      this.pending = "";
      this.pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(encodePing());
      }, this.pingIntervalMs);
    });
    socket.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      const frame = decodeFrame(data);
      if (frame.type === "out") this.show(frame.bytes, decoder, frame.replay);
      else if (frame.type === "error") this.events.write(note(frame.message));
      else this.events.debug(`ignored a ${isBinary ? "binary" : "text"} frame (${frame.reason})`);
    });
    socket.on("error", (error) => {
      this.events.debug(`terminal socket: ${error.message}`);
    });
    socket.on("close", (code, reason) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.stopTimers();
      const uptime = openedAt === 0 ? 0 : Date.now() - openedAt;
      this.onDropped(uptime, code, reason.toString() || `connection closed (${code})`);
    });
  }

  private show(bytes: Uint8Array, decoder: TerminalDecoder, replay?: ReplaySpan): void {
    if (replay !== undefined) {
      const lost = this.offset === undefined ? 0 : replay.from - this.offset;
      if (lost > 0) {
        this.events.write(note(`${lost} bytes of output while disconnected were not kept`));
      }
      this.offset = replay.from;
    }
    if (this.offset !== undefined) this.offset += bytes.length;
    this.events.write(decoder.decode(bytes));
  }

  private onDropped(uptimeMs: number, code: number, why: string): void {
    if (this.closed) return;
    if (this.sessionEnding) {
      this.ended(); // the destroy took the shell, however the socket closed
      return;
    }
    if (this.sessionRestarting && isFinalClose(code)) {
      this.lostToRestart = true;
      this.events.write(
        note("the session is restarting; the terminal re-attaches when it is back"),
      );
      return;
    }
    if (isFinalClose(code)) {
      this.waitingForKey = true;
      this.events.write(
        note(`the session ended the terminal (${why}). Press any key to reconnect.`),
      );
      return;
    }
    const decision = this.policy.onClosed(uptimeMs);
    if (decision.action === "wait-for-user") {
      this.waitingForKey = true;
      this.events.write(note(`${why}; gave up retrying. Press any key to reconnect.`));
      return;
    }
    const seconds = (decision.delayMs / 1000).toFixed(1);
    this.events.write(
      note(`connection lost (${why}); reconnecting in ${seconds}s (attempt ${decision.attempt})…`),
    );
    this.retryTimer = setTimeout(() => void this.connect(), decision.delayMs);
  }

  private sendResize(): void {
    const size = this.size;
    if (size && this.socket?.readyState === WebSocket.OPEN) {
      this.socket.send(encodeResize(size.rows, size.columns));
    }
  }

  private stopTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.pingTimer = this.retryTimer = undefined;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
