// The language client: starts `bai-bridge lsp`, restarts it (queued, one at a time) on a
// crash or a settings change, and says so every time.
import * as readline from "node:readline";
import type { Readable } from "node:stream";

import * as vscode from "vscode";
import {
  CloseAction,
  DidChangeConfigurationNotification,
  type CloseHandlerResult,
  ErrorAction,
  type ErrorHandlerResult,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
} from "vscode-languageclient/node";

import { SECRET_KEY_ID, SECTION, readSettings } from "./config";
import { CrashPolicy } from "./crashPolicy";
import { serverInterpreter } from "./interpreter";
import { ServerLogReader } from "./serverLog";
import { initializationOptions, serverEnvironment, serverOptions } from "./settings";

/** Wires the bridge's custom notifications and requests onto a fresh client. */
export type ClientWiring = (client: LanguageClient) => vscode.Disposable[];

export class BridgeClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private wiring: vscode.Disposable[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly crashes = new CrashPolicy();
  private readonly changed = new vscode.EventEmitter<boolean>();
  /** Fires true when a client is running, false when it stopped. */
  readonly onDidChangeRunning = this.changed.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly wire: ClientWiring,
    /** Options for this start only (the session chosen for the folder). */
    private readonly startOptions: () => Record<string, unknown> = () => ({}),
  ) {}

  get running(): boolean {
    return this.client?.isRunning() ?? false;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.startNow());
  }

  restart(reason: string): Promise<void> {
    return this.enqueue(async () => {
      this.log.info(`restarting the language server: ${reason}`);
      await this.stopNow();
      this.crashes.reset();
      await this.startNow();
    });
  }

  /** workspace/executeCommand with one argument object, as the server's commands take. */
  async execute<R>(command: string, argument?: unknown): Promise<R> {
    const client = this.client;
    if (!client?.isRunning()) {
      throw new Error(
        "the Backend.AI language server is not running (Backend.AI: Restart Language Server)",
      );
    }
    const params = { command, arguments: argument === undefined ? [] : [argument] };
    return (await client.sendRequest(ExecuteCommandRequest.type, params)) as R;
  }

  /** One of the bridge's own requests (protocol.ts). */
  async request<R>(method: string, params: object): Promise<R> {
    const client = this.client;
    if (!client?.isRunning()) throw new Error("the Backend.AI language server is not running");
    return await client.sendRequest<R>(method, params);
  }

  /** Tell the server its settings changed; it pulls them again (see the middleware). */
  async settingsChanged(): Promise<void> {
    if (this.client?.isRunning()) {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: null,
      });
    }
  }

  dispose(): void {
    void this.enqueue(() => this.stopNow());
    this.changed.dispose();
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.queue.then(task, task);
    this.queue = next.catch((error: unknown) => {
      this.log.error(`language server: ${String(error)}`);
    });
    return next;
  }

  private async startNow(): Promise<void> {
    const settings = readSettings();
    let python: string | undefined;
    try {
      python = await serverInterpreter(this.context, settings, this.log);
    } catch (error) {
      this.reportStartFailure(`could not install the language server: ${String(error)}`);
      return;
    }
    if (python === undefined) {
      this.log.warn("the language server is not installed; Backend.AI features are off");
      return;
    }
    const secret = await this.secretKey();
    // No `transport`: the client would append `--stdio`; stdio is what `bai-bridge lsp` speaks.
    const server: ServerOptions = {
      command: python,
      args: ["-m", "bai_bridge", "lsp"],
      options: { env: serverEnvironment(settings, secret, process.env), cwd: workspaceRoot() },
    };
    const client = new LanguageClient(
      "baiBridge",
      "Backend.AI Bridge",
      server,
      this.clientOptions(settings),
    );
    this.client = client;
    this.wiring = this.wire(client);
    this.log.info(`starting the language server with ${python}`);
    try {
      await client.start();
      this.changed.fire(true);
    } catch (error) {
      this.reportStartFailure(`the language server did not start: ${String(error)}`);
    }
  }

  /** The secret key from SecretStorage; a storage that never answers must not block the start. */
  private async secretKey(): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        this.log.warn(
          "the secret storage did not answer within 10 s; starting without a secret key",
        );
        resolve(undefined);
      }, 10_000);
    });
    try {
      return await Promise.race([
        Promise.resolve(this.context.secrets.get(SECRET_KEY_ID)),
        timeout,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private clientOptions(settings: ReturnType<typeof readSettings>): LanguageClientOptions {
    return {
      documentSelector: [
        { scheme: "file", language: "python" },
        { scheme: "untitled", language: "python" },
      ],
      middleware: {
        workspace: {
          // The server pulls the `baiBridge` section: answer with its options only (the
          // extension's own settings, such as the interpreter, are not the server's business).
          configuration: async (params, token, next) => {
            const result = await next(params, token);
            if (!Array.isArray(result)) return result;
            return result.map((value: unknown, index) =>
              params.items[index]?.section === SECTION ? serverOptions(readSettings()) : value,
            );
          },
        },
      },
      initializationOptions: initializationOptions(settings, this.startOptions()),
      outputChannel: this.log,
      stdioOptions: {
        stdout: (input, channel) => {
          eachLine(input, (line) => {
            channel.info(line);
          });
        },
        stderr: (input, channel) => {
          const reader = new ServerLogReader();
          eachLine(input, (line) => {
            const { level, message } = reader.read(line);
            channel[level](message);
          });
        },
      },
      errorHandler: {
        error: (_error, _message, count): ErrorHandlerResult => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
        }),
        closed: (): CloseHandlerResult => this.onClosed(),
      },
    };
  }

  private onClosed(): CloseHandlerResult {
    this.changed.fire(false);
    const decision = this.crashes.onCrash(Date.now());
    this.log.warn(decision.message);
    if (decision.restart) {
      void vscode.window.showWarningMessage(decision.message);
      return { action: CloseAction.Restart, handled: true };
    }
    void vscode.window.showErrorMessage(decision.message, "Restart").then((choice) => {
      if (choice === "Restart") void this.restart("requested after repeated crashes");
    });
    return { action: CloseAction.DoNotRestart, handled: true };
  }

  private reportStartFailure(message: string): void {
    this.log.error(message);
    void vscode.window
      .showErrorMessage(`Backend.AI: ${message}`, "Retry", "Open Settings")
      .then((choice) => {
        if (choice === "Retry") void this.restart("retry after a failed start");
        if (choice === "Open Settings") {
          void vscode.commands.executeCommand("workbench.action.openSettings", SECTION);
        }
      });
  }

  private async stopNow(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    for (const disposable of this.wiring) disposable.dispose();
    this.wiring = [];
    if (client === undefined) return;
    try {
      if (client.isRunning()) await client.stop(5000);
    } catch (error) {
      this.log.warn(`stopping the language server: ${String(error)}`);
    } finally {
      this.changed.fire(false);
    }
  }
}

function eachLine(input: Readable, handle: (line: string) => void): void {
  readline.createInterface({ input, crlfDelay: Infinity, terminal: false }).on("line", handle);
}

function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}
