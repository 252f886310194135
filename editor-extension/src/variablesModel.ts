// What the Variables view shows, apart from VS Code: one row per name (name, type, size, short
// value), one level of details under it, and the reason an empty view is empty.
import type { Variable, VariablesResult } from "./protocol";

const VALUE_CHARS = 60;
const COLUMNS_SHOWN = 20;

export interface VariableRow {
  kind: "variable";
  variable: Variable;
}

export interface DetailRow {
  kind: "detail";
  label: string;
  value: string;
}

export type VariableTreeRow = VariableRow | DetailRow;

/** A repr on one line, cut to `max` characters. */
export function shortValue(repr: string, max = VALUE_CHARS): string {
  const line = repr.replace(/\s*\n\s*/g, " ");
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

/** The row's description beside its name: the server's summary (type, shape or len, dtype, a
 * function's signature) and the value where it is known. */
export function describe(v: Variable): string {
  return v.repr == null ? v.summary : `${v.summary} = ${shortValue(v.repr)}`;
}

/** What expanding a row shows: what the short row leaves out. */
export function details(v: Variable): DetailRow[] {
  const rows: DetailRow[] = [{ kind: "detail", label: "type", value: v.type }];
  const add = (label: string, value: string | null | undefined): void => {
    if (value != null && value !== "") rows.push({ kind: "detail", label, value });
  };
  if (v.shape != null) add("shape", `(${v.shape.join(", ")})`);
  if (v.len != null) add("len", String(v.len));
  add("dtype", v.dtype);
  if (v.columns != null) {
    const more = v.columns.length - COLUMNS_SHOWN;
    const shown = v.columns.slice(0, COLUMNS_SHOWN).join(", ");
    add("columns", more > 0 ? `${shown} … (${more} more)` : shown);
  }
  add("value", v.repr == null ? null : shortValue(v.repr, 200));
  add("doc", v.doc);
  return rows;
}

export function rows(result: VariablesResult | undefined): VariableRow[] {
  return (result?.variables ?? []).map((variable) => ({ kind: "variable", variable }));
}

/**
 * The line above the tree: why it is empty, or that it is partial; undefined when the rows say
 * it all. `state` is the session's last `baiBridge/sessionStatus` state (undefined: none yet).
 */
export function viewMessage(
  state: string | undefined,
  result: VariablesResult | undefined,
  error?: string,
): string | undefined {
  if (error !== undefined) return `Could not read the session's variables: ${error}`;
  if (state === undefined) return "No session yet: run a line or cell to start one.";
  if (state === "starting" || state === "restarting") return "The session is starting…";
  if (state === "terminated") return "The session has ended: the next run starts a new one.";
  if (state === "error") return "The session failed: see the status bar item.";
  if (result === undefined || result.variables.length === 0)
    return "Nothing defined in the session yet.";
  if (result.truncated) return "Partial: the session has more names than one snapshot describes.";
  return undefined;
}
