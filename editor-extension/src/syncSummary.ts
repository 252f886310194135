// What a workspace sync or a download did, in words (pure).
import type { DownloadResult, SyncResult } from "./protocol";

/** A one-line summary of a sync, for the status bar. */
export function describeSync(result: SyncResult): string {
  const parts = [`${result.uploaded.length} sent`, `${result.unchanged} unchanged`];
  if (result.conflicts.length) parts.push(`${result.conflicts.length} changed in the session`);
  if (result.skipped.length) parts.push(`${result.skipped.length} over the size limit`);
  if (result.failed.length) parts.push(`${result.failed.length} failed`);
  return `Backend.AI sync: ${parts.join(", ")}`;
}

/** A one-line summary of a download: what arrived, and what local work was kept. */
export function describeDownload(result: DownloadResult): string {
  const parts = [`downloaded ${result.files.length} file(s)`];
  if (result.kept.length) parts.push(`kept your local ${result.kept.join(", ")}`);
  if (result.copies.length) parts.push(`the session's copy beside it: ${result.copies.join(", ")}`);
  return `Backend.AI: ${parts.join("; ")}`;
}
