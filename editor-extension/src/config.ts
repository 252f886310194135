// Reads the `baiBridge.*` configuration into typed Settings (the only place that does).
import * as vscode from "vscode";

import { SECTION, type Settings } from "./settings";

export { SECTION };
export const SECRET_KEY_ID = "baiBridge.secretKey";

function serverProfile(value: string): Settings["serverProfile"] {
  return value === "cluster" ? "cluster" : "embedded";
}

function runKeys(value: string): Settings["runKeys"] {
  return value === "on" || value === "off" ? value : "auto";
}

export function readSettings(scope?: vscode.ConfigurationScope): Settings {
  const config = vscode.workspace.getConfiguration(SECTION, scope);
  return {
    interpreter: config.get<string>("interpreter", ""),
    serverWheelhouse: config.get<string>("serverWheelhouse", ""),
    endpoint: config.get<string>("endpoint", ""),
    serverProfile: serverProfile(config.get<string>("serverProfile", "embedded")),
    accessKey: config.get<string>("accessKey", ""),
    image: config.get<string>("image", "python:3.11-ubuntu22.04"),
    resources: config.get<Record<string, string | number>>("resources", {}),
    mounts: config.get<string[]>("mounts", []),
    syncExcludes: config.get<string[]>("syncExcludes", []),
    sessionName: config.get<string>("sessionName", ""),
    syncOnStart: config.get<boolean>("syncOnStart", true),
    namespaceMirror: config.get<boolean>("namespaceMirror", true),
    outputFoldLines: Math.max(10, config.get<number>("outputFoldLines", 200)),
    runKeys: runKeys(config.get<string>("runKeys", "auto")),
    sessionExtraPaths: config.get<boolean>("sessionEnvironment.extraPaths", false),
  };
}
