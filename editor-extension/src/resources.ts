// The session's resources as the status item shows them: compact in the bar, in full in the
// tooltip. Pure (no vscode import) so it is unit-tested.
import type { SessionResources } from "./protocol";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1073741824 -> "1 GiB", 1610612736 -> "1.5 GiB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = value >= 10 || Number.isInteger(value) ? Math.round(value) : value.toFixed(1);
  return `${String(shown)} ${UNITS[unit] ?? "B"}`;
}

function known(value: number | null | undefined): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function amount(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toFixed(2)));
}

/** The status bar's part: "2 CPU · 1.2/4 GiB · 1 GPU"; "" when nothing is known. */
export function describeResourcesShort(res: SessionResources | null | undefined): string {
  if (!res) return "";
  const parts: string[] = [];
  if (known(res.cpu)) {
    const load = known(res.cpuPercent) ? ` ${String(Math.round(res.cpuPercent))}%` : "";
    parts.push(`${amount(res.cpu)} CPU${load}`);
  } else if (known(res.cpuPercent)) {
    parts.push(`CPU ${String(Math.round(res.cpuPercent))}%`);
  }
  if (known(res.memory) && known(res.memoryUsed)) {
    parts.push(`${formatBytes(res.memoryUsed)}/${formatBytes(res.memory)}`);
  } else if (known(res.memory)) {
    parts.push(formatBytes(res.memory));
  } else if (known(res.memoryUsed)) {
    parts.push(`${formatBytes(res.memoryUsed)} used`);
  }
  if (known(res.gpu) && res.gpu > 0) parts.push(`${amount(res.gpu)} GPU`);
  if (known(res.fgpu) && res.fgpu > 0) parts.push(`${amount(res.fgpu)} fGPU`);
  return parts.join(" · ");
}

/** The tooltip's lines: what the session holds, then what it uses. */
export function describeResourcesLong(res: SessionResources | null | undefined): string[] {
  if (!res) return [];
  const held: string[] = [];
  if (known(res.cpu)) held.push(`${amount(res.cpu)} CPU core(s)`);
  if (known(res.memory)) held.push(`${formatBytes(res.memory)} memory`);
  if (known(res.gpu) && res.gpu > 0) held.push(`${amount(res.gpu)} GPU(s)`);
  if (known(res.fgpu) && res.fgpu > 0) held.push(`${amount(res.fgpu)} fractional GPU`);
  const used: string[] = [];
  if (known(res.cpuPercent)) used.push(`CPU ${String(Math.round(res.cpuPercent))}%`);
  if (known(res.memoryUsed)) used.push(`memory ${formatBytes(res.memoryUsed)}`);
  const lines: string[] = [];
  if (held.length) lines.push(`allocated: ${held.join(", ")}`);
  if (used.length) lines.push(`in use: ${used.join(", ")}`);
  return lines;
}
