// The output view's model: runs and their console items in order, fed by `baiBridge/output`.
// Pure (no vscode): the view renders what `render()` returns.

import { ansiToHtml } from "./ansi";
import type { Output, OutputItem } from "./protocol";
import { TextBuffer, fold, showMore } from "./textBuffer";

export type ModelItem =
  | { kind: "text"; stream: "stdout" | "stderr"; buffer: TextBuffer; limit: number }
  | { kind: "html"; html: string }
  | { kind: "image"; src: string; mime: string }
  | { kind: "unsupported"; mime: string };

export interface Run {
  runId: string;
  label: string;
  uri: string | null;
  status: string | null;
  exitCode: number | null;
  items: ModelItem[];
}

/** What the webview draws (plain JSON; HTML already escaped or server-made). */
export type RenderedItem =
  | { kind: "text"; stream: string; html: string; hidden: number }
  | { kind: "html"; html: string }
  | { kind: "image"; src: string; alt: string }
  | { kind: "note"; text: string };

export interface RenderedRun {
  runId: string;
  label: string;
  status: string | null;
  exitCode: number | null;
  items: RenderedItem[];
}

const BASE64 = /^[A-Za-z0-9+/=\s]*$/;

/** A data URI an <img> can show, or null when the item is not a picture we support. */
export function imageSource(item: OutputItem): { src: string; mime: string } | null {
  const mime = (item.mime ?? "").toLowerCase();
  if (mime === "image/svg+xml") {
    const src = item.data.startsWith("data:")
      ? item.data
      : `data:image/svg+xml;base64,${Buffer.from(item.data, "utf8").toString("base64")}`;
    return { src, mime };
  }
  if (mime === "image/png" || mime === "image/jpeg" || mime === "image/gif") {
    if (item.data.startsWith(`data:${mime};base64,`)) return { src: item.data, mime };
    if (BASE64.test(item.data)) return { src: `data:${mime};base64,${item.data.trim()}`, mime };
  }
  return null;
}

export class OutputModel {
  private readonly runs: Run[] = [];

  constructor(
    private readonly foldLines: number,
    private readonly maxRuns = 50,
  ) {}

  /** Apply one notification; returns the run it touched (null if unknown and not a start). */
  apply(note: Output): Run | null {
    if (note.event === "start") return this.start(note);
    const run = this.find(note.runId) ?? this.start({ ...note, label: note.label ?? "run" });
    for (const item of note.items ?? []) this.add(run, item); // "end" carries the last output
    if (note.event === "end") {
      run.status = note.status ?? "finished";
      run.exitCode = note.exitCode ?? null;
    }
    return run;
  }

  find(runId: string): Run | undefined {
    return this.runs.find((run) => run.runId === runId);
  }

  all(): readonly Run[] {
    return this.runs;
  }

  clear(): void {
    this.runs.length = 0;
  }

  /** Unfold more of a text item; returns false if there is no such item. */
  expand(runId: string, index: number): boolean {
    const item = this.find(runId)?.items[index];
    if (item?.kind !== "text") return false;
    item.limit = showMore(item.limit, this.foldLines, item.buffer.lineCount);
    return true;
  }

  private start(note: Output): Run {
    const existing = this.find(note.runId);
    if (existing) return existing;
    const run: Run = {
      runId: note.runId,
      label: note.label ?? "run",
      uri: note.uri ?? null,
      status: null,
      exitCode: null,
      items: [],
    };
    this.runs.push(run);
    if (this.runs.length > this.maxRuns) this.runs.shift();
    return run;
  }

  private add(run: Run, item: OutputItem): void {
    if (item.kind === "stdout" || item.kind === "stderr") {
      const last = run.items[run.items.length - 1];
      if (last?.kind === "text" && last.stream === item.kind) {
        last.buffer.append(item.data);
        return;
      }
      const buffer = new TextBuffer();
      buffer.append(item.data);
      run.items.push({ kind: "text", stream: item.kind, buffer, limit: this.foldLines });
    } else if (item.kind === "html") {
      run.items.push({ kind: "html", html: item.data });
    } else {
      const image = imageSource(item);
      run.items.push(
        image ? { kind: "image", ...image } : { kind: "unsupported", mime: item.mime ?? item.kind },
      );
    }
  }
}

export function renderItem(item: ModelItem): RenderedItem {
  switch (item.kind) {
    case "text": {
      const { shown, hidden } = fold(item.buffer.lineCount, item.limit);
      return {
        kind: "text",
        stream: item.stream,
        html: ansiToHtml(item.buffer.head(shown)),
        hidden,
      };
    }
    case "html":
      return { kind: "html", html: item.html };
    case "image":
      return { kind: "image", src: item.src, alt: item.mime };
    case "unsupported":
      return { kind: "note", text: `(output of type ${item.mime} is not shown)` };
  }
}

export function renderRun(run: Run): RenderedRun {
  return {
    runId: run.runId,
    label: run.label,
    status: run.status,
    exitCode: run.exitCode,
    items: run.items.map(renderItem),
  };
}
