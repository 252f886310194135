// How pip installs the server's wheel into the private environment: from the package index by
// default, or only from a local folder of wheels (an offline machine; the editor tests).
// Pure (no vscode), so the unit tests cover it.

export const WHEELHOUSE_ENV = "BAI_BRIDGE_WHEELHOUSE";

/** The wheelhouse folder: the setting, else $BAI_BRIDGE_WHEELHOUSE, else none (the index). */
export function wheelhouse(setting: string, env: NodeJS.ProcessEnv): string | undefined {
  const folder = setting.trim() || (env[WHEELHOUSE_ENV] ?? "").trim();
  return folder === "" ? undefined : folder;
}

/** `python -m pip ...` arguments that install the server's wheel and its dependencies. */
export function pipInstallArgs(wheel: string, folder: string | undefined): string[] {
  const args = ["-m", "pip", "install", "--disable-pip-version-check", "--upgrade"];
  if (folder !== undefined) args.push("--no-index", "--find-links", folder);
  return [...args, wheel];
}
