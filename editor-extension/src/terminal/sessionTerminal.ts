// The session's terminal as a Pseudoterminal over the PTY WebSocket. The descriptor (URL plus
// headers signed for one connection) comes from the language server each time we connect.
// A dropped connection reconnects with a visible message and the screen is kept: the server
// keeps no scrollback, so clearing would lose what the person saw.
import * as vscode from "vscode";
import WebSocket from "ws";

import type { TerminalDescriptor } from "../protocol";
import { TerminalDecoder, decodeFrame, encodePing, encodeResize, encodeStdin } from "./frames";
import { ReconnectPolicy, isFinalClose } from "./reconnect";

const PING_INTERVAL_MS = 30_000;
const NOTE = (text: string): string => `\r\n\x1b[2;33m[Backend.AI] ${text}\x1b[0m\r\n`;

/** Resolves null when the server could not reach the session (it says why itself). */
export type DescriptorSource = () => Promise<TerminalDescriptor | null>;

export class SessionTerminal implements vscode.Pseudoterminal {
  private readonly writer = new vscode.EventEmitter<string>();
  private readonly closer = new vscode.EventEmitter<number | undefined>();
  readonly onDidWrite = this.writer.event;
  readonly onDidClose = this.closer.event;

  private socket: WebSocket | undefined;
  private dimensions: vscode.TerminalDimensions | undefined;
  private readonly policy = new ReconnectPolicy();
  private retryTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private waitingForKey = false;
  private closed = false;
  private opened = 0;

  constructor(
    private readonly descriptor: DescriptorSource,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    this.dimensions = dimensions;
    this.writer.fire("\x1b[2m[Backend.AI] connecting to the session terminal…\x1b[0m\r\n");
    void this.connect();
  }

  close(): void {
    this.closed = true;
    this.stopTimers();
    this.socket?.close(1000);
    this.socket = undefined;
  }

  handleInput(data: string): void {
    if (this.waitingForKey) {
      this.waitingForKey = false;
      this.policy.reset();
      this.writer.fire(NOTE("reconnecting…"));
      void this.connect();
      return;
    }
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(encodeStdin(data));
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.dimensions = dimensions;
    this.sendResize();
  }

  private async connect(): Promise<void> {
    let descriptor: TerminalDescriptor | null;
    try {
      descriptor = await this.descriptor();
    } catch (error) {
      this.onDropped(0, 1011, `could not reach the session: ${errorMessage(error)}`);
      return;
    }
    if (this.closed) return;
    if (descriptor === null) {
      // The server has already told the person why (a message); retry with backoff.
      this.onDropped(0, 1011, "the session is not available");
      return;
    }
    const socket = new WebSocket(descriptor.url, {
      headers: descriptor.headers,
      perMessageDeflate: false,
    });
    this.socket = socket;
    const decoder = new TerminalDecoder();
    let openedAt = 0;
    socket.on("open", () => {
      openedAt = Date.now();
      this.opened += 1;
      if (this.opened > 1) this.writer.fire(NOTE(`reconnected to ${descriptor.sessionName}`));
      this.sendResize();
      this.pingTimer = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(encodePing());
      }, PING_INTERVAL_MS);
    });
    socket.on("message", (data: WebSocket.RawData, isBinary: boolean) => {
      const frame = decodeFrame(data);
      if (frame.type === "out") this.writer.fire(decoder.decode(frame.bytes));
      else if (frame.type === "error") this.writer.fire(NOTE(frame.message));
      else
        this.log.debug(
          `terminal: ignored a ${isBinary ? "binary" : "text"} frame (${frame.reason})`,
        );
    });
    socket.on("error", (error) => {
      this.log.warn(`terminal: ${error.message}`);
    });
    socket.on("close", (code, reason) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.stopTimers();
      const uptime = openedAt === 0 ? 0 : Date.now() - openedAt;
      this.onDropped(uptime, code, reason.toString() || `connection closed (${code})`);
    });
  }

  private onDropped(uptimeMs: number, code: number, why: string): void {
    if (this.closed) return;
    if (isFinalClose(code)) {
      this.waitingForKey = true;
      this.writer.fire(
        NOTE(`the session ended the terminal (${why}). Press any key to reconnect.`),
      );
      return;
    }
    const decision = this.policy.onClosed(uptimeMs);
    if (decision.action === "wait-for-user") {
      this.waitingForKey = true;
      this.writer.fire(NOTE(`${why}; gave up retrying. Press any key to reconnect.`));
      return;
    }
    const seconds = (decision.delayMs / 1000).toFixed(1);
    this.writer.fire(
      NOTE(`connection lost (${why}); reconnecting in ${seconds}s (attempt ${decision.attempt})…`),
    );
    this.retryTimer = setTimeout(() => void this.connect(), decision.delayMs);
  }

  private sendResize(): void {
    const size = this.dimensions;
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

/** A terminal that opens the session's shell. */
export function createSessionTerminal(
  descriptor: DescriptorSource,
  log: vscode.LogOutputChannel,
): vscode.ExtensionTerminalOptions {
  return {
    name: "Backend.AI session",
    pty: new SessionTerminal(descriptor, log),
    iconPath: new vscode.ThemeIcon("vm"),
  };
}
