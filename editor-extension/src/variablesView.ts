// The Variables view (Backend.AI panel): the session's names from `baiBridge/variables`, asked
// again when a run ends or the session changes, and only while the view is visible.
import * as vscode from "vscode";

import type { VariablesResult } from "./protocol";
import { type VariableTreeRow, describe, details, rows, viewMessage } from "./variablesModel";

export const VIEW_ID = "baiBridge.variables";
// States after which the last answer no longer describes the session's namespace.
const FRESH = new Set(["starting", "restarting", "terminated", "error"]);

export class VariablesView implements vscode.TreeDataProvider<VariableTreeRow>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<VariableTreeRow>;
  private readonly visibility: vscode.Disposable;
  private state: string | undefined;
  private result: VariablesResult | undefined;
  private error: string | undefined;
  private asked = 0; // only the newest answer is shown: an older one may arrive after it

  constructor(private readonly fetch: () => Promise<VariablesResult>) {
    this.view = vscode.window.createTreeView(VIEW_ID, { treeDataProvider: this });
    this.visibility = this.view.onDidChangeVisibility((event) => {
      if (event.visible) void this.refresh();
    });
    this.show();
  }

  /** A `baiBridge/sessionStatus` state: a new or restarted session has a new namespace. */
  sessionState(state: string): void {
    const was = this.state;
    this.state = state;
    if (FRESH.has(state)) this.result = undefined;
    if (state === "running" && was !== "busy" && was !== "running") void this.refresh();
    else this.show();
  }

  /** Ask the server again (a run ended). */
  async refresh(): Promise<void> {
    if (!this.view.visible) return;
    const asked = ++this.asked;
    let result: VariablesResult | undefined;
    let error: string | undefined;
    try {
      result = await this.fetch();
    } catch (e) {
      error = e instanceof Error ? e.message : String(e);
    }
    if (asked !== this.asked) return;
    this.result = result;
    this.error = error;
    this.show();
  }

  getTreeItem(row: VariableTreeRow): vscode.TreeItem {
    if (row.kind === "detail") {
      const item = new vscode.TreeItem(row.label);
      item.description = row.value;
      item.tooltip = row.value;
      return item;
    }
    const v = row.variable;
    const item = new vscode.TreeItem(v.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.description = describe(v);
    item.tooltip = `${v.name}: ${v.type}${v.doc ? `\n${v.doc}` : ""}`;
    item.id = v.name;
    return item;
  }

  getChildren(row?: VariableTreeRow): VariableTreeRow[] {
    if (row === undefined) return rows(this.result);
    return row.kind === "variable" ? details(row.variable) : [];
  }

  dispose(): void {
    this.visibility.dispose();
    this.view.dispose();
    this.changed.dispose();
  }

  private show(): void {
    this.view.message = viewMessage(this.state, this.result, this.error);
    this.changed.fire(undefined);
  }
}
