// The status bar item: the session's state from `baiBridge/sessionStatus`; a click offers the
// session actions.
import * as vscode from "vscode";

import type { SessionState, SessionStatus } from "./protocol";
import { describeResourcesLong, describeResourcesShort } from "./resources";

// Every state has its icon (the compiler checks): "reconnecting" while the server is
// unreachable, back to "running" once it answers.
const ICONS: Record<SessionState, string> = {
  starting: "$(loading~spin)",
  running: "$(vm-running)",
  busy: "$(sync~spin)",
  restarting: "$(loading~spin)",
  reconnecting: "$(plug)",
  destroying: "$(trash)",
  terminated: "$(vm-outline)",
  error: "$(error)",
};

export class SessionStatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(
    "baiBridge.status",
    vscode.StatusBarAlignment.Left,
    50,
  );
  private current: SessionStatus | undefined;

  constructor() {
    this.item.name = "Backend.AI session";
    this.item.command = "baiBridge.sessionActions";
    this.showServer("starting");
    this.item.show();
  }

  get status(): SessionStatus | undefined {
    return this.current;
  }

  update(status: SessionStatus): void {
    this.current = status;
    const known: Partial<Record<string, string>> = ICONS; // a newer server's state: "?"
    const icon = known[status.state] ?? "$(question)";
    const held = describeResourcesShort(status.resources);
    this.item.text = `${icon} ${status.sessionName}: ${status.state}${held ? ` · ${held}` : ""}`;
    const lines = [`Backend.AI session **${status.sessionName}**: ${status.state}`];
    lines.push(...describeResourcesLong(status.resources));
    if (status.image) lines.push(`image: \`${status.image}\``);
    if (status.endpoint) lines.push(`endpoint: ${status.endpoint}`);
    if (status.message) lines.push(status.message);
    this.item.tooltip = new vscode.MarkdownString(lines.join("\n\n"));
    this.item.backgroundColor =
      status.state === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
    void vscode.commands.executeCommand("setContext", "baiBridge.busy", status.state === "busy");
  }

  /** Before the first session status: what the language server itself is doing. */
  showServer(state: "starting" | "stopped"): void {
    this.current = undefined;
    this.item.text =
      state === "starting" ? "$(loading~spin) Backend.AI" : "$(debug-disconnect) Backend.AI";
    this.item.tooltip =
      state === "starting"
        ? "Backend.AI: starting the language server"
        : "Backend.AI: the language server is not running";
    this.item.backgroundColor = undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
