// How a run ended, in words for the output view and the output channel. Pure (no vscode).
// Statuses come from the server's `baiBridge/output` "end" (see server protocol.py, Output).

export type RunTone = "running" | "finished" | "failed" | "interrupted";

export interface RunOutcome {
  text: string;
  tone: RunTone;
}

const FAILED_STATUS: Readonly<Record<string, string>> = {
  failed: "failed",
  "exec-timeout": "timed out",
  error: "could not run",
};

/** `status` null means the run is still going. A non-zero exit code is a failure whatever the
 * status says; an interrupt is reported as such even when the kernel gave an exit code. */
export function runOutcome(status: string | null, exitCode: number | null): RunOutcome {
  if (status === null) return { text: "running", tone: "running" };
  if (status === "interrupted") return { text: "interrupted", tone: "interrupted" };
  const failed = FAILED_STATUS[status];
  const exit = exitCode !== null && exitCode !== 0 ? `exit ${exitCode}` : null;
  if (failed !== undefined) return { text: exit ? `${failed}, ${exit}` : failed, tone: "failed" };
  if (exit) return { text: `failed, ${exit}`, tone: "failed" };
  if (status === "finished") return { text: "finished", tone: "finished" };
  return { text: status, tone: "failed" }; // a status this version does not know: flag it
}
