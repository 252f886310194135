// A stream's text as lines, with terminal-style carriage returns (progress bars overwrite
// their line) and a view of the first lines only, so huge outputs stay cheap to show.

export class TextBuffer {
  private readonly lines: string[] = [""];

  /** Append a chunk; "\r" not followed by "\n" rewinds to the start of the current line. */
  append(chunk: string): void {
    const parts = chunk.replace(/\r\n/g, "\n").split("\n");
    parts.forEach((part, index) => {
      if (index > 0) this.lines.push("");
      const last = this.lines.length - 1;
      const current = (this.lines[last] ?? "") + part;
      const rewind = current.lastIndexOf("\r");
      this.lines[last] = rewind === -1 ? current : current.slice(rewind + 1);
    });
  }

  /** Number of lines (a trailing newline does not open a line of its own). */
  get lineCount(): number {
    const n = this.lines.length;
    return this.lines[n - 1] === "" ? n - 1 : n;
  }

  /** The first `count` lines joined with "\n" (all of them when count is larger). */
  head(count: number): string {
    const shown = this.lines.slice(0, Math.min(count, this.lineCount));
    return shown.join("\n");
  }

  text(): string {
    return this.head(this.lineCount);
  }
}

export interface Fold {
  /** Lines to show now. */
  shown: number;
  /** Lines behind "show more". */
  hidden: number;
}

/** How a text of `total` lines folds when `limit` lines are allowed. */
export function fold(total: number, limit: number): Fold {
  const shown = Math.min(total, Math.max(0, limit));
  return { shown, hidden: total - shown };
}

/** The next limit after one "show more": ten times the fold, never past the end. */
export function showMore(current: number, foldLines: number, total: number): number {
  return Math.min(total, current + foldLines * 10);
}
