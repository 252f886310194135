// The output view: a webview panel showing each run's console items in order. Updates are
// batched (a huge output costs one message per frame, not one per chunk) and long text is
// folded behind "show more". Text also goes to the "Backend.AI Output" channel.
import { randomBytes } from "node:crypto";
import * as vscode from "vscode";

import { stripAnsi } from "./ansi";
import { paletteCss } from "./ansiPalette";
import { OutputModel, type Run, renderItem } from "./outputModel";
import type { Output } from "./protocol";
import { runOutcome } from "./runOutcome";

const FLUSH_MS = 50;

interface ViewMessage {
  type: "more" | "clear";
  runId?: string;
  index?: number;
}

export class OutputView implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private readonly model: OutputModel;
  private readonly sent = new Map<string, number>();
  private readonly dirty = new Map<string, Set<number>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly channel: vscode.OutputChannel,
    foldLines: number,
  ) {
    this.model = new OutputModel(foldLines);
  }

  /** One `baiBridge/output` notification. */
  apply(note: Output): void {
    const isNew = this.model.find(note.runId) === undefined; // a short run sends only its end
    const run = this.model.apply(note);
    if (run === null) return;
    this.toChannel(note, run, isNew);
    if (isNew) this.show();
    this.markDirty(run);
    this.schedule();
  }

  show(): void {
    if (this.panel) {
      if (!this.panel.visible) this.panel.reveal(vscode.ViewColumn.Beside, true);
      return;
    }
    this.panel = vscode.window.createWebviewPanel(
      "baiBridge.output",
      "Backend.AI Output",
      { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
      {
        enableScripts: true,
        retainContextWhenHidden: true,
        localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, "media")],
      },
    );
    this.panel.webview.html = this.html(this.panel.webview);
    this.panel.webview.onDidReceiveMessage((message: ViewMessage) => {
      this.onMessage(message);
    });
    this.panel.onDidDispose(() => {
      this.panel = undefined;
      this.sent.clear();
    });
    for (const run of this.model.all()) this.markDirty(run, true);
    this.schedule();
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.panel?.dispose();
  }

  private toChannel(note: Output, run: Run, isNew: boolean): void {
    if (isNew) this.channel.appendLine(`── ${run.label} ──`);
    for (const item of note.items ?? []) {
      if (item.kind === "stdout" || item.kind === "stderr")
        this.channel.append(stripAnsi(item.data));
      else this.channel.appendLine(`[${item.mime ?? item.kind} output: see the output view]`);
    }
    if (note.event === "end")
      this.channel.appendLine(`── ${run.label}: ${runOutcome(run.status, run.exitCode).text} ──`);
  }

  /** Items that may have changed: new ones, and the last one sent (text grows in place). */
  private markDirty(run: Run, all = false): void {
    const sent = all ? 0 : (this.sent.get(run.runId) ?? 0);
    const indices = this.dirty.get(run.runId) ?? new Set<number>();
    for (let i = Math.max(0, sent - 1); i < run.items.length; i++) indices.add(i);
    this.dirty.set(run.runId, indices);
  }

  private schedule(): void {
    if (this.timer || !this.panel) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, FLUSH_MS);
  }

  private flush(): void {
    if (!this.panel) return;
    const updates = [];
    for (const [runId, indices] of this.dirty) {
      const run = this.model.find(runId);
      if (!run) continue;
      const items = [...indices]
        .sort((a, b) => a - b)
        .flatMap((index) => {
          const item = run.items[index];
          return item ? [{ index, item: renderItem(item) }] : [];
        });
      const outcome = runOutcome(run.status, run.exitCode);
      updates.push({ runId, label: run.label, outcome, items });
      this.sent.set(runId, run.items.length);
    }
    this.dirty.clear();
    const runIds = this.model.all().map((run) => run.runId);
    void this.panel.webview.postMessage({ type: "update", runs: updates, keep: runIds });
  }

  private onMessage(message: ViewMessage): void {
    if (message.type === "clear") {
      this.model.clear();
      this.sent.clear();
      return;
    }
    if (message.runId === undefined || message.index === undefined) return;
    if (this.model.expand(message.runId, message.index)) {
      this.dirty.set(message.runId, new Set([message.index]));
      this.schedule();
    }
  }

  private html(webview: vscode.Webview): string {
    const nonce = randomBytes(16).toString("base64");
    const media = (file: string): vscode.Uri =>
      webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, "media", file));
    const csp = [
      "default-src 'none'",
      `img-src ${webview.cspSource} data:`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `script-src 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
    ].join("; ");
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${media("output.css").toString()}">
<style nonce="${nonce}">${paletteCss()}</style>
<title>Backend.AI Output</title>
</head>
<body>
<header><button id="clear" type="button">Clear</button></header>
<main id="runs"><p id="empty">Run a cell, a selection or a file: its output appears here.</p></main>
<script nonce="${nonce}" src="${media("follow.js").toString()}"></script>
<script nonce="${nonce}" src="${media("output.js").toString()}"></script>
</body>
</html>`;
  }
}
