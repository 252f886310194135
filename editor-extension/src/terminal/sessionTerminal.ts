// The session's terminal as a VS Code Pseudoterminal: a thin adapter over TerminalConnection.
import * as vscode from "vscode";

import { type DescriptorSource, TerminalConnection } from "./connection";
import type { SessionTerminals } from "./sessionTerminals";

export type { DescriptorSource } from "./connection";
export { SessionTerminals } from "./sessionTerminals";

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
