// Where Pylance looks for the session's packages: `python.analysis.extraPaths`, kept in step with
// what the server reports (baiBridge/sessionEnvironment). Pure (no vscode): extension.ts applies it.

import type { PackagePaths } from "./protocol";

/** Whether ``entry`` is one of ours: under the server's cache folder. */
function isOurs(entry: string, cacheRoot: string): boolean {
  const root = cacheRoot.replace(/[\\/]+$/, "");
  return entry === root || entry.startsWith(`${root}/`) || entry.startsWith(`${root}\\`);
}

/**
 * The extraPaths to set: the person's own entries, in their order, then the server's (its view
 * folder, or each package folder where it has none); with ``enabled`` false only the person's
 * (ours are taken out again). ``undefined``: nothing to change.
 */
export function nextExtraPaths(
  current: readonly string[],
  report: PackagePaths,
  enabled: boolean,
): string[] | undefined {
  const own = current.filter((entry) => !isOurs(entry, report.cacheRoot));
  const ours = !enabled ? [] : report.view !== null ? [report.view] : report.paths;
  const next = [...own, ...ours];
  const same = next.length === current.length && next.every((entry, i) => entry === current[i]);
  return same ? undefined : next;
}
