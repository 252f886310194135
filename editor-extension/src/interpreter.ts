// Which Python runs the language server, and installing the server into a private virtual
// environment (from the wheel inside the .vsix) when that Python does not have it.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";

import { pipInstallArgs, wheelhouse } from "./serverInstall";
import type { Settings } from "./settings";

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string } | undefined;
  };
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${command} ${args.join(" ")}: ${stderr.trim() || error.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** The interpreter setting, else the Python extension's interpreter, else python3. */
export async function configuredInterpreter(setting: string): Promise<string> {
  if (setting.trim() !== "") return setting.trim();
  const python = vscode.extensions.getExtension<PythonExtensionApi>("ms-python.python");
  if (python) {
    try {
      const api = python.isActive ? python.exports : await python.activate();
      const active = api.environments?.getActiveEnvironmentPath(
        vscode.workspace.workspaceFolders?.[0]?.uri,
      );
      if (active?.path) return active.path;
    } catch {
      // The Python extension's API is optional; fall through to python3.
    }
  }
  return process.platform === "win32" ? "python" : "python3";
}

export async function hasServer(python: string): Promise<boolean> {
  try {
    await run(python, ["-c", "import bai_bridge.cli"], 60_000);
    return true;
  } catch {
    return false;
  }
}

function venvPython(venv: string): string {
  return process.platform === "win32"
    ? path.join(venv, "Scripts", "python.exe")
    : path.join(venv, "bin", "python");
}

function bundledWheel(extensionPath: string): string | undefined {
  const dir = path.join(extensionPath, "wheels");
  const wheel = fs.existsSync(dir)
    ? fs.readdirSync(dir).find((f) => f.endsWith(".whl"))
    : undefined;
  return wheel === undefined ? undefined : path.join(dir, wheel);
}

async function installPrivate(
  base: string,
  venv: string,
  wheel: string,
  folder: string | undefined,
  log: vscode.LogOutputChannel,
): Promise<string> {
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: "Backend.AI: installing the language server",
    },
    async (progress) => {
      progress.report({ message: "creating a virtual environment" });
      await run(base, ["-m", "venv", venv], 300_000);
      const python = venvPython(venv);
      progress.report({ message: `installing ${path.basename(wheel)}` });
      const from = folder === undefined ? "the package index" : `the wheelhouse ${folder}`;
      log.info(`installing ${wheel} into ${venv} from ${from}`);
      await run(python, pipInstallArgs(wheel, folder), 900_000);
      log.info(`installed the language server into ${venv}`);
      return python;
    },
  );
}

/**
 * A Python that can run `bai-bridge lsp`, or undefined when the person declined the install.
 * Order: the configured one, the private venv, else offer to install into the private venv.
 */
export async function serverInterpreter(
  context: vscode.ExtensionContext,
  settings: Pick<Settings, "interpreter" | "serverWheelhouse">,
  log: vscode.LogOutputChannel,
): Promise<string | undefined> {
  const python = await configuredInterpreter(settings.interpreter);
  log.info(`language server interpreter: ${python}`);
  if (await hasServer(python)) return python;
  log.warn(`${python} cannot import bai_bridge`);
  const venv = path.join(context.globalStorageUri.fsPath, "server-venv");
  if (await hasServer(venvPython(venv))) return venvPython(venv);
  const wheel = bundledWheel(context.extensionPath);
  const install = "Install";
  const choice = await vscode.window.showWarningMessage(
    `The bai-bridge language server is not installed for ${python}. Install it into a private environment?`,
    install,
  );
  if (choice !== install) return undefined;
  if (wheel === undefined) throw new Error("this build of the extension carries no server wheel");
  fs.mkdirSync(context.globalStorageUri.fsPath, { recursive: true });
  const folder = wheelhouse(settings.serverWheelhouse, process.env);
  return installPrivate(python, venv, wheel, folder, log);
}
