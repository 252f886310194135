// Entry point: activate() only wires the pieces together and hands their disposables to VS Code.
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";

import { BridgeClient } from "./client";
import { registerCommands, terminalDescriptor } from "./commands";
import { SECTION, readSettings } from "./config";
import { askForInput } from "./input";
import { OutputView } from "./outputView";
import { ReadonlyDocuments, SCHEME } from "./readonlyDocs";
import {
  INPUT_REQUEST,
  type InputRequestParams,
  OUTPUT,
  type Output,
  type PackagePaths,
  SESSION_ENVIRONMENT,
  SESSION_STATUS,
  type SessionStatus,
  VARIABLES,
  type VariablesResult,
} from "./protocol";
import { PythonExtraPaths } from "./pythonPaths";
import { needsRestart, ownsRunKeys } from "./settings";
import { SessionMemory } from "./sessionMemory";
import { SessionStatusItem } from "./status";
import { SessionTerminals, createSessionTerminal } from "./terminal/sessionTerminal";
import { VariablesView } from "./variablesView";

const OTHER_RUNNERS = ["ms-python.python", "ms-toolsai.jupyter"];

function wireClient(
  status: SessionStatusItem,
  output: OutputView,
  terminals: SessionTerminals,
  variables: VariablesView,
  extraPaths: PythonExtraPaths,
  memory: SessionMemory,
): (client: LanguageClient) => vscode.Disposable[] {
  return (client) => [
    client.onNotification(SESSION_STATUS, (params: SessionStatus) => {
      status.update(params);
      terminals.sessionState(params.state, params.sessionId);
      variables.sessionState(params.state);
      // The session worked in is the one the next start attaches to (this folder's choice).
      if (params.state === "running") void memory.remember(params.sessionId, params.sessionName);
    }),
    client.onNotification(OUTPUT, (params: Output) => {
      output.apply(params);
      if (params.event === "end") void variables.refresh();
    }),
    client.onRequest(INPUT_REQUEST, (params: InputRequestParams) => askForInput(params)),
    client.onNotification(SESSION_ENVIRONMENT, (params: PackagePaths) => {
      extraPaths.report(params);
    }),
  ];
}

function updateRunKeys(): void {
  const others = OTHER_RUNNERS.some((id) => vscode.extensions.getExtension(id) !== undefined);
  const owns = ownsRunKeys(readSettings().runKeys, others);
  void vscode.commands.executeCommand("setContext", "baiBridge.ownsRunKeys", owns);
}

export async function activate(
  context: vscode.ExtensionContext,
): Promise<{ client: BridgeClient }> {
  const log = vscode.window.createOutputChannel("Backend.AI Bridge", { log: true });
  const runOutput = vscode.window.createOutputChannel("Backend.AI Output");
  const status = new SessionStatusItem();
  const output = new OutputView(context.extensionUri, runOutput, readSettings().outputFoldLines);
  const terminals = new SessionTerminals();
  const extraPaths = new PythonExtraPaths(log);
  const memory = new SessionMemory(context.workspaceState, () =>
    (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.toString()),
  );
  // The view asks through the client, which tells it of runs' ends: typed to break the cycle.
  const variables: VariablesView = new VariablesView((): Promise<VariablesResult> =>
    client.request(VARIABLES, {}),
  );
  const client: BridgeClient = new BridgeClient(
    context,
    log,
    wireClient(status, output, terminals, variables, extraPaths, memory),
    () => memory.serverOption(),
  );
  const documents = new ReadonlyDocuments();
  const deps = {
    context,
    client,
    status,
    log,
    documents,
    terminals,
    memory,
    showOutput: () => {
      output.show();
    },
  };
  let settings = readSettings();

  context.subscriptions.push(
    log,
    runOutput,
    status,
    output,
    variables,
    client,
    documents,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, documents),
    ...registerCommands(deps),
    vscode.commands.registerCommand("baiBridge.refreshVariables", () => variables.refresh()),
    client.onDidChangeRunning((running) => {
      if (!running) status.showServer("stopped");
    }),
    vscode.window.registerTerminalProfileProvider("baiBridge.sessionTerminal", {
      provideTerminalProfile: () =>
        new vscode.TerminalProfile(createSessionTerminal(terminalDescriptor(deps), log, terminals)),
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (!event.affectsConfiguration(SECTION)) return;
      const next = readSettings();
      updateRunKeys();
      void extraPaths.apply();
      if (needsRestart(settings, next)) void client.restart("settings changed");
      else void client.settingsChanged();
      settings = next;
    }),
    vscode.extensions.onDidChange(updateRunKeys),
  );
  updateRunKeys();
  await client.start();
  return { client };
}

export function deactivate(): void {
  // Disposables registered in activate() stop the client and close the views.
}
