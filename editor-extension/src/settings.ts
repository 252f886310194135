// Settings → the language server's environment and initializationOptions. Pure (no vscode):
// `readSettings` in config.ts fills `Settings` from the workspace configuration.

/** The configuration section: the extension's settings, and the server's options' key. */
export const SECTION = "baiBridge";

export interface Settings {
  interpreter: string;
  serverWheelhouse: string;
  endpoint: string;
  /** How the embedded server behaves (BAI_BRIDGE_PROFILE); unused with an endpoint. */
  serverProfile: "embedded" | "cluster";
  accessKey: string;
  image: string;
  resources: Record<string, string | number>;
  mounts: string[];
  syncExcludes: string[];
  sessionName: string;
  syncOnStart: boolean;
  /** The silent namespace snapshot after runs; the server reads it only at start. */
  namespaceMirror: boolean;
  outputFoldLines: number;
  runKeys: "auto" | "on" | "off";
  /** baiBridge.sessionEnvironment.extraPaths: the session's packages in Pylance's extraPaths. */
  sessionExtraPaths: boolean;
}

/** Settings that only the server process reads at start: changing them restarts it. */
export const RESTART_SETTINGS = [
  "interpreter",
  "endpoint",
  "serverProfile",
  "accessKey",
  "namespaceMirror",
] as const;

/**
 * The language server's environment: the editor's own, plus the Backend.AI keys and the
 * embedded server's profile.
 * The secret key only ever travels here (never in initializationOptions, never in a log).
 */
export function serverEnvironment(
  settings: Settings,
  secretKey: string | undefined,
  base: NodeJS.ProcessEnv,
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    PYTHONUNBUFFERED: "1",
    BAI_BRIDGE_PROFILE: settings.serverProfile,
  };
  if (settings.endpoint.trim() !== "") env.BACKEND_ENDPOINT = settings.endpoint.trim();
  if (settings.accessKey.trim() !== "") env.BACKEND_ACCESS_KEY = settings.accessKey.trim();
  if (secretKey !== undefined && secretKey !== "") env.BACKEND_SECRET_KEY = secretKey;
  return env;
}

/** The server's options (camelCase, as server/bai_bridge/lsp/config.py reads them). */
export function serverOptions(settings: Settings): Record<string, unknown> {
  const options: Record<string, unknown> = {
    image: settings.image,
    resources: settings.resources,
    mounts: settings.mounts,
    syncExcludes: settings.syncExcludes,
    syncOnStart: settings.syncOnStart,
    namespaceMirror: settings.namespaceMirror,
  };
  if (settings.endpoint.trim() !== "") options.endpoint = settings.endpoint.trim();
  if (settings.sessionName.trim() !== "") options.sessionName = settings.sessionName.trim();
  return options;
}

/**
 * initializationOptions: the server's options under SECTION, plus what only the start uses
 * (the session chosen for the folder). With the section there, the server sends its session's
 * create at `initialized` instead of first asking for the settings (workspace/configuration,
 * whose answer, `serverOptions` of the same settings, then changes nothing).
 */
export function initializationOptions(
  settings: Settings,
  startOptions: Record<string, unknown>,
): Record<string, unknown> {
  return { [SECTION]: { ...serverOptions(settings), ...startOptions } };
}

/** Whether a configuration change needs a server restart (it reads these only at start). */
export function needsRestart(before: Settings, after: Settings): boolean {
  return RESTART_SETTINGS.some((key) => before[key] !== after[key]);
}

/** Whether Shift+Enter / Ctrl+Enter are ours, given which other extensions are installed. */
export function ownsRunKeys(runKeys: Settings["runKeys"], othersInstalled: boolean): boolean {
  return runKeys === "on" || (runKeys === "auto" && !othersInstalled);
}
