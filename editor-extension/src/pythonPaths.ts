// Keeps this workspace's `python.analysis.extraPaths` in step with the session's packages when
// `baiBridge.sessionEnvironment.extraPaths` is on (see extraPaths.ts for what is written).
import * as vscode from "vscode";

import { readSettings } from "./config";
import { nextExtraPaths } from "./extraPaths";
import type { PackagePaths } from "./protocol";

export class PythonExtraPaths {
  private last: PackagePaths | undefined;

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** What the server reported last (baiBridge/sessionEnvironment). */
  report(paths: PackagePaths): void {
    this.last = paths;
    void this.apply();
  }

  /** Write the setting if it must change (after a report, or when our setting changed). */
  async apply(): Promise<void> {
    const last = this.last;
    if (last === undefined || !vscode.workspace.workspaceFolders?.length) return;
    const python = vscode.workspace.getConfiguration("python.analysis");
    const current = python.inspect<string[]>("extraPaths")?.workspaceValue ?? [];
    const next = nextExtraPaths(current, last, readSettings().sessionExtraPaths);
    if (next === undefined) return;
    try {
      await python.update("extraPaths", next, vscode.ConfigurationTarget.Workspace);
      this.log.info(`python.analysis.extraPaths: ${JSON.stringify(next)}`);
    } catch (error) {
      // No Python extension registers the setting: nothing reads it either.
      this.log.warn(`could not set python.analysis.extraPaths: ${String(error)}`);
    }
  }
}
