// The items of "Backend.AI: Attach to Session…": "New session" first, then the person's
// sessions (name; image · status · age; resources). Pure (no vscode import), so unit-tested.
import type { SessionEntry, SessionList } from "./protocol";
import { describeResourcesShort } from "./resources";

export type PickAction =
  { kind: "new" } | { kind: "attach"; id: string; name: string; current: boolean };

export interface PickItem {
  label: string;
  description?: string;
  detail?: string;
  action: PickAction;
}

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** 42 -> "just now", 300 -> "5 min", 7200 -> "2 h", 259200 -> "3 days". */
export function formatAge(seconds: number | null | undefined): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "";
  if (seconds < MINUTE) return "just now";
  if (seconds < HOUR) return `${String(Math.floor(seconds / MINUTE))} min`;
  if (seconds < DAY) return `${String(Math.floor(seconds / HOUR))} h`;
  const days = Math.floor(seconds / DAY);
  return days === 1 ? "1 day" : `${String(days)} days`;
}

function started(age: string): string {
  if (age === "") return "";
  return age === "just now" ? "started just now" : `started ${age} ago`;
}

/** "python:3.11 · RUNNING · started 5 min ago" (what the server did not report is left out). */
export function describeSession(entry: SessionEntry): string {
  return [entry.image ?? "", entry.status ?? "", started(formatAge(entry.ageSeconds))]
    .filter((part) => part !== "")
    .join(" · ");
}

export function sessionItem(entry: SessionEntry): PickItem {
  const resources = describeResourcesShort(entry.resources);
  const detail = [entry.current ? "the session this editor works in" : "", resources]
    .filter((part) => part !== "")
    .join(" · ");
  return {
    label: `${entry.current ? "$(check) " : ""}${entry.name}`,
    description: describeSession(entry),
    ...(detail === "" ? {} : { detail }),
    action: { kind: "attach", id: entry.id, name: entry.name, current: entry.current },
  };
}

export function pickItems(list: SessionList | null | undefined): PickItem[] {
  const sessions = list?.sessions ?? [];
  const hidden = (list?.totalCount ?? 0) - sessions.length;
  const fresh: PickItem = {
    label: "$(add) New session",
    description: "start one with the image and resources in the settings",
    ...(hidden > 0 ? { detail: `${String(hidden)} more session(s) not listed` } : {}),
    action: { kind: "new" },
  };
  return [fresh, ...sessions.map(sessionItem)];
}
