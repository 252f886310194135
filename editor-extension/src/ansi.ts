// ANSI SGR escape sequences to HTML spans with classes only (the output view's CSP forbids
// inline styles). Other escape sequences (cursor moves, OSC titles) are dropped.

interface Style {
  fg?: number;
  bg?: number;
  bold?: boolean;
  dim?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

// CSI ... final byte, OSC ... BEL/ST, or a lone two-byte escape.
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[([0-9;?]*)([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;
// eslint-disable-next-line no-control-regex
const ESCAPE_ANY = /\x1b\[[0-9;?]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]/g;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Text without any escape sequence (for the output channel). */
export function stripAnsi(text: string): string {
  return text.replace(ESCAPE_ANY, "");
}

/** The nearest of the 256 xterm colours to an RGB triple (the 6x6x6 cube or the greys). */
export function rgbTo256(r: number, g: number, b: number): number {
  const level = (v: number): number => (v < 48 ? 0 : v < 115 ? 1 : Math.floor((v - 35) / 40));
  const cube = 16 + 36 * level(r) + 6 * level(g) + level(b);
  const grey = Math.round(((r + g + b) / 3 - 8) / 10);
  const isGrey = Math.max(r, g, b) - Math.min(r, g, b) < 10;
  return isGrey ? Math.min(255, Math.max(232, 232 + grey)) : cube;
}

function extendedColour(codes: number[], i: number): { colour?: number; used: number } {
  const mode = codes[i + 1];
  if (mode === 5 && codes[i + 2] !== undefined) {
    return { colour: (codes[i + 2] ?? 0) & 255, used: 2 };
  }
  if (mode === 2 && codes.length >= i + 5) {
    return { colour: rgbTo256(codes[i + 2] ?? 0, codes[i + 3] ?? 0, codes[i + 4] ?? 0), used: 4 };
  }
  return { used: 0 };
}

/** Apply one SGR parameter list to a style; returns the new style. */
export function applySgr(style: Style, params: string): Style {
  const codes = params === "" ? [0] : params.split(";").map((p) => (p === "" ? 0 : Number(p)));
  let next: Style = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] ?? 0;
    if (code === 0) next = {};
    else if (code === 1) next.bold = true;
    else if (code === 2) next.dim = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 7) next.inverse = true;
    else if (code === 22) next.bold = next.dim = false;
    else if (code === 23) next.italic = false;
    else if (code === 24) next.underline = false;
    else if (code === 27) next.inverse = false;
    else if (code >= 30 && code <= 37) next.fg = code - 30;
    else if (code >= 90 && code <= 97) next.fg = code - 90 + 8;
    else if (code >= 40 && code <= 47) next.bg = code - 40;
    else if (code >= 100 && code <= 107) next.bg = code - 100 + 8;
    else if (code === 39) delete next.fg;
    else if (code === 49) delete next.bg;
    else if (code === 38 || code === 48) {
      const { colour, used } = extendedColour(codes, i);
      if (colour !== undefined) next[code === 38 ? "fg" : "bg"] = colour;
      i += used;
    }
  }
  return next;
}

export function styleClasses(style: Style): string[] {
  const classes: string[] = [];
  const fg = style.inverse ? style.bg : style.fg;
  const bg = style.inverse ? style.fg : style.bg;
  if (fg !== undefined) classes.push(`ansi-fg-${fg}`);
  if (bg !== undefined) classes.push(`ansi-bg-${bg}`);
  if (style.inverse && fg === undefined) classes.push("ansi-inverse-fg");
  if (style.inverse && bg === undefined) classes.push("ansi-inverse-bg");
  if (style.bold) classes.push("ansi-bold");
  if (style.dim) classes.push("ansi-dim");
  if (style.italic) classes.push("ansi-italic");
  if (style.underline) classes.push("ansi-underline");
  return classes;
}

function span(text: string, style: Style): string {
  if (text === "") return "";
  const classes = styleClasses(style);
  const escaped = escapeHtml(text);
  return classes.length === 0 ? escaped : `<span class="${classes.join(" ")}">${escaped}</span>`;
}

/** Convert text with ANSI escape sequences to safe HTML (every character escaped). */
export function ansiToHtml(text: string): string {
  let html = "";
  let style: Style = {};
  let last = 0;
  for (const match of text.matchAll(ESCAPE)) {
    html += span(text.slice(last, match.index), style);
    if (match[2] === "m") style = applySgr(style, match[1] ?? "");
    last = match.index + match[0].length;
  }
  return html + span(text.slice(last), style);
}
