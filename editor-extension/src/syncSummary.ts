// What a workspace sync did, in words (pure).
import type { SyncResult } from "./protocol";

/** A one-line summary of a sync, for the status bar. */
export function describeSync(result: SyncResult): string {
  const parts = [`${result.uploaded.length} sent`, `${result.unchanged} unchanged`];
  if (result.conflicts.length) parts.push(`${result.conflicts.length} changed in the session`);
  if (result.skipped.length) parts.push(`${result.skipped.length} over the size limit`);
  if (result.failed.length) parts.push(`${result.failed.length} failed`);
  return `Backend.AI sync: ${parts.join(", ")}`;
}
