// The extension's own UI commands (ids `baiBridge.*`): each one gathers its argument from the
// editor and calls the server's command (`bai-bridge.*`) through workspace/executeCommand.
import * as vscode from "vscode";

import type { BridgeClient } from "./client";
import { SECRET_KEY_ID } from "./config";
import {
  type DownloadResult,
  type RemoteFile,
  type RunResult,
  ServerCommand,
  type SyncResult,
  type TerminalDescriptor,
} from "./protocol";
import type { ReadonlyDocuments } from "./readonlyDocs";
import { attachToSession } from "./sessionCommands";
import type { SessionMemory } from "./sessionMemory";
import type { SessionStatusItem } from "./status";
import { describeDownload, describeSync } from "./syncSummary";
import { type SessionTerminals, createSessionTerminal } from "./terminal/sessionTerminal";

export interface CommandDeps {
  context: vscode.ExtensionContext;
  client: BridgeClient;
  status: SessionStatusItem;
  log: vscode.LogOutputChannel;
  documents: ReadonlyDocuments;
  terminals: SessionTerminals;
  memory: SessionMemory;
  showOutput: () => void;
}

function pythonEditor(): vscode.TextEditor {
  const editor = vscode.window.activeTextEditor;
  if (!editor) throw new Error("open a Python file first");
  return editor;
}

function reportRun(result: RunResult | null | undefined): void {
  // A failed run's traceback is in the output view already (marked red): no pop-up for it.
  const quiet = ["finished", "failed"];
  if (
    result &&
    !quiet.includes(result.status) &&
    result.exitCode !== null &&
    result.exitCode !== 0
  ) {
    void vscode.window.showWarningMessage(
      `Backend.AI: the run ended with ${result.status} (exit code ${result.exitCode})`,
    );
  }
}

/** The run keys also work while the suggestion list is open (it is, at the end of most typed
 * lines): close it, so the run takes the line as typed, which is what the person sees. */
async function closeSuggestions(): Promise<void> {
  await vscode.commands.executeCommand("hideSuggestWidget");
}

async function runSelection(deps: CommandDeps): Promise<void> {
  const editor = pythonEditor();
  await closeSuggestions();
  const { start, end } = editor.selection;
  deps.showOutput();
  const range = {
    start: { line: start.line, character: start.character },
    end: { line: end.line, character: end.character },
  };
  const run = deps.client.execute<RunResult>(ServerCommand.runSelection, {
    uri: editor.document.uri.toString(),
    range,
  });
  if (editor.selection.isEmpty && start.line + 1 < editor.document.lineCount) {
    // Like a REPL: move to the next line, so Shift+Enter walks through a file. Now, not when
    // the run ends: by then the person may be typing elsewhere.
    const next = new vscode.Position(start.line + 1, 0);
    editor.selection = new vscode.Selection(next, next);
  }
  reportRun(await run);
}

async function runCell(deps: CommandDeps, uri?: string, line?: number): Promise<void> {
  const editor = uri === undefined ? pythonEditor() : undefined;
  if (editor) await closeSuggestions();
  deps.showOutput();
  const args = {
    uri: uri ?? editor?.document.uri.toString(),
    line: line ?? editor?.selection.active.line ?? 0,
  };
  reportRun(await deps.client.execute<RunResult>(ServerCommand.runCell, args));
}

/** Run File runs the saved file in the session's namespace (its names stay, plots show);
 * as a job, in a batch process of its own that leaves the namespace alone. */
async function runFile(deps: CommandDeps, asJob: boolean): Promise<void> {
  const editor = pythonEditor();
  if (editor.document.isDirty) await editor.document.save();
  deps.showOutput();
  const command = asJob ? ServerCommand.runFileAsJob : ServerCommand.runFile;
  reportRun(
    await deps.client.execute<RunResult>(command, {
      uri: editor.document.uri.toString(),
    }),
  );
}

async function showDocument(deps: CommandDeps, name: string, content: unknown): Promise<void> {
  if (content === null || content === undefined) return; // the server has said why
  const text = typeof content === "string" ? content : JSON.stringify(content, null, 2);
  await deps.documents.show(name, text);
}

async function downloadFiles(deps: CommandDeps): Promise<void> {
  const files = await deps.client.execute<RemoteFile[]>(ServerCommand.listRemoteFiles, {});
  const picks = await vscode.window.showQuickPick(
    files.map((file) => ({ label: file.filename, description: `${file.size} bytes` })),
    { canPickMany: true, title: "Backend.AI: files to download into the workspace" },
  );
  if (!picks || picks.length === 0) return;
  const paths = picks.map((pick) => pick.label);
  const result = await deps.client.execute<DownloadResult | null>(ServerCommand.download, {
    paths,
  });
  if (result) void vscode.window.showInformationMessage(describeDownload(result)); // else: said why
}

async function syncWorkspace(deps: CommandDeps): Promise<void> {
  // The server itself asks about conflicts and reports skipped or failed files.
  const result = await deps.client.execute<SyncResult | null>(ServerCommand.syncWorkspace);
  if (result === null) return;
  const summary = describeSync(result);
  deps.log.info(summary);
  vscode.window.setStatusBarMessage(summary, 5000);
}

async function setSecretKey(deps: CommandDeps): Promise<void> {
  const secret = await vscode.window.showInputBox({
    title: "Backend.AI secret key",
    prompt: "Kept in VS Code's secret storage; empty removes it",
    password: true,
    ignoreFocusOut: true,
  });
  if (secret === undefined) return;
  if (secret === "") await deps.context.secrets.delete(SECRET_KEY_ID);
  else await deps.context.secrets.store(SECRET_KEY_ID, secret);
  await deps.client.restart("the secret key changed");
}

export function openSessionTerminal(deps: CommandDeps): vscode.Terminal {
  const terminal = vscode.window.createTerminal(
    createSessionTerminal(terminalDescriptor(deps), deps.log, deps.terminals),
  );
  terminal.show();
  return terminal;
}

export function terminalDescriptor(
  deps: Pick<CommandDeps, "client">,
): (since: number) => Promise<TerminalDescriptor | null> {
  return (since) =>
    deps.client.execute<TerminalDescriptor | null>(ServerCommand.terminalDescriptor, { since });
}

async function sessionActions(deps: CommandDeps): Promise<void> {
  const actions: [string, string][] = [
    ["$(plug) Attach to Session…", "baiBridge.attachSession"],
    ["$(terminal) Open Session Terminal", "baiBridge.openTerminal"],
    ["$(info) Session Info", "baiBridge.sessionInfo"],
    ["$(output) Session Logs", "baiBridge.sessionLogs"],
    ["$(debug-pause) Interrupt", "baiBridge.interrupt"],
    ["$(debug-restart) Restart Session", "baiBridge.restartSession"],
    ["$(trash) Destroy Session", "baiBridge.destroySession"],
    ["$(sync) Sync Workspace", "baiBridge.syncWorkspace"],
    ["$(cloud-download) Download Files", "baiBridge.downloadFiles"],
    ["$(preview) Show Output", "baiBridge.showOutput"],
    ["$(refresh) Restart Language Server", "baiBridge.restartServer"],
  ];
  const status = deps.status.status;
  const pick = await vscode.window.showQuickPick(
    actions.map(([label, command]) => ({ label, command })),
    { title: status ? `Backend.AI session ${status.sessionName}: ${status.state}` : "Backend.AI" },
  );
  if (pick) await vscode.commands.executeCommand(pick.command);
}

async function confirm(question: string, action: string): Promise<boolean> {
  return (await vscode.window.showWarningMessage(question, { modal: true }, action)) === action;
}

/** Every UI command, by id. */
export function commandTable(
  deps: CommandDeps,
): Record<string, (...args: unknown[]) => Promise<unknown>> {
  const run = (command: string) => () => deps.client.execute(command);
  return {
    "baiBridge.runSelection": () => runSelection(deps),
    "baiBridge.runCell": (uri?: unknown, line?: unknown) =>
      runCell(
        deps,
        typeof uri === "string" ? uri : undefined,
        typeof line === "number" ? line : undefined,
      ),
    "baiBridge.runFile": () => runFile(deps, false),
    "baiBridge.runFileAsJob": () => runFile(deps, true),
    "baiBridge.interrupt": run(ServerCommand.interrupt),
    "baiBridge.restartSession": async () => {
      if (await confirm("Restart the Backend.AI session? Its variables are lost.", "Restart")) {
        await deps.client.execute(ServerCommand.restart);
      }
    },
    "baiBridge.destroySession": async () => {
      if (await confirm("Destroy the Backend.AI session?", "Destroy"))
        await deps.client.execute(ServerCommand.destroy);
    },
    "baiBridge.openTerminal": () => Promise.resolve(openSessionTerminal(deps)),
    "baiBridge.sessionInfo": async () =>
      showDocument(deps, "session-info.json", await deps.client.execute(ServerCommand.sessionInfo)),
    "baiBridge.sessionLogs": async () =>
      showDocument(deps, "session.log", await deps.client.execute(ServerCommand.sessionLogs)),
    "baiBridge.syncWorkspace": () => syncWorkspace(deps),
    "baiBridge.downloadFiles": () => downloadFiles(deps),
    "baiBridge.setSecretKey": () => setSecretKey(deps),
    "baiBridge.showOutput": () => {
      deps.showOutput();
      return Promise.resolve();
    },
    "baiBridge.sessionActions": () => sessionActions(deps),
    "baiBridge.attachSession": () => attachToSession(deps),
    "baiBridge.restartServer": () => deps.client.restart("requested"),
    "baiBridge.clearPackageCache": run(ServerCommand.clearPackageCache),
  };
}

/** Register the table; a failing command shows its error instead of failing silently. */
export function registerCommands(deps: CommandDeps): vscode.Disposable[] {
  return Object.entries(commandTable(deps)).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        deps.log.error(`${id}: ${message}`);
        void vscode.window.showErrorMessage(`Backend.AI: ${message}`);
        return undefined;
      }
    }),
  );
}
