// The session terminal's connection, without VS Code: a WebSocket to the session's PTY opened
// with a fresh signed descriptor each time, output decoded (text or binary frames), window
// size and keep-alive pings sent, and a dropped connection retried with a visible note.
// The screen is never cleared: what was shown stays. Each connection asks for the output
// after the bytes already shown (`since`); a server that keeps scrollback (the embedded one)
// replays what was missed first, so the screen goes on where it stopped. A manager keeps
// none: after a re-attach there, a note says output while disconnected was not kept.
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
  private connections = 0;
  /** Keys typed while (re)connecting. */
  private pending = "";
  /** Bytes of the terminal's output shown, once a server's replay frame told where it stands. */
  private offset: number | undefined;

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
      this.waitingForKey = false;
      this.policy.reset();
      this.events.write(note("reconnecting…"));
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
    const old = this.socket;
    this.socket = undefined; // its close is no drop to recover from
    this.stopTimers();
    old?.close(1000);
    this.waitingForKey = this.lostToRestart = false;
    this.policy.reset();
    this.events.write(note("the editor moved to another session; attaching to its terminal…"));
    void this.connect();
  }

  close(): void {
    this.closed = true;
    this.stopTimers();
    this.socket?.close(1000);
    this.socket = undefined;
  }

  private async connect(): Promise<void> {
    let descriptor: TerminalDescriptor | null;
    try {
      descriptor = await this.descriptor(this.offset ?? -1);
    } catch (error) {
      this.onDropped(0, 1011, `could not reach the session: ${errorMessage(error)}`);
      return;
    }
    if (this.closed) return;
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
      if (this.connections > 1) {
        const missed = this.offset === undefined ? "; output while disconnected was not kept" : "";
        this.events.write(note(`reconnected to ${descriptor.sessionName}${missed}`));
      }
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
