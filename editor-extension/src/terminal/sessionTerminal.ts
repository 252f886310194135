// The session's terminal as a VS Code Pseudoterminal: a thin adapter over TerminalConnection.
import * as vscode from "vscode";

import { type DescriptorSource, TerminalConnection } from "./connection";

export type { DescriptorSource } from "./connection";

export class SessionTerminal implements vscode.Pseudoterminal {
  private readonly writer = new vscode.EventEmitter<string>();
  private readonly closer = new vscode.EventEmitter<number | undefined>();
  readonly onDidWrite = this.writer.event;
  readonly onDidClose = this.closer.event;
  private readonly connection: TerminalConnection;

  constructor(
    descriptor: DescriptorSource,
    log: vscode.LogOutputChannel,
    private readonly terminals: SessionTerminals,
  ) {
    this.connection = new TerminalConnection(descriptor, {
      write: (text) => {
        this.writer.fire(text);
      },
      debug: (message) => {
        log.debug(`terminal: ${message}`);
      },
    });
  }

  open(dimensions: vscode.TerminalDimensions | undefined): void {
    this.terminals.add(this.connection);
    void this.connection.start(dimensions);
  }

  close(): void {
    this.terminals.delete(this.connection);
    this.connection.close();
    this.writer.dispose();
    this.closer.dispose();
  }

  handleInput(data: string): void {
    this.connection.input(data);
  }

  setDimensions(dimensions: vscode.TerminalDimensions): void {
    this.connection.resize(dimensions);
  }
}

/** The open session terminals, told when the session restarts (which ends its shell). */
export class SessionTerminals {
  private readonly open = new Set<TerminalConnection>();
  private state: string | undefined;
  private sessionId: string | undefined;

  add(connection: TerminalConnection): void {
    this.open.add(connection);
  }

  delete(connection: TerminalConnection): void {
    this.open.delete(connection);
  }

  /** The session's state (and id, once known) from each `baiBridge/sessionStatus`. */
  sessionState(state: string, sessionId?: string | null): void {
    if (sessionId && this.sessionId && sessionId !== this.sessionId) {
      for (const connection of this.open) connection.moved(); // attached to another session
    } else if (state === "restarting") {
      for (const connection of this.open) connection.restarting();
    } else if (this.state === "restarting") {
      for (const connection of this.open) connection.restarted();
    }
    this.state = state;
    if (sessionId) this.sessionId = sessionId;
  }
}

/** A terminal that opens the session's shell. */
export function createSessionTerminal(
  descriptor: DescriptorSource,
  log: vscode.LogOutputChannel,
  terminals: SessionTerminals,
): vscode.ExtensionTerminalOptions {
  return {
    name: "Backend.AI session",
    pty: new SessionTerminal(descriptor, log, terminals),
    iconPath: new vscode.ThemeIcon("vm"),
  };
}
