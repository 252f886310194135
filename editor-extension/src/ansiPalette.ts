// CSS classes for the 256 xterm colours used by ansi.ts (the first 16 follow the theme).

const CUBE = [0, 95, 135, 175, 215, 255];

function hex(r: number, g: number, b: number): string {
  return `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;
}

export function colour256(index: number): string {
  if (index >= 232) {
    const v = 8 + (index - 232) * 10;
    return hex(v, v, v);
  }
  const i = index - 16;
  return hex(CUBE[Math.floor(i / 36)] ?? 0, CUBE[Math.floor(i / 6) % 6] ?? 0, CUBE[i % 6] ?? 0);
}

const THEME_NAMES = [
  "Black",
  "Red",
  "Green",
  "Yellow",
  "Blue",
  "Magenta",
  "Cyan",
  "White",
  "BrightBlack",
  "BrightRed",
  "BrightGreen",
  "BrightYellow",
  "BrightBlue",
  "BrightMagenta",
  "BrightCyan",
  "BrightWhite",
];

export function paletteCss(): string {
  const rules: string[] = [];
  for (let i = 0; i < 256; i++) {
    const name = THEME_NAMES[i];
    const value = name === undefined ? colour256(i) : `var(--vscode-terminal-ansi${name})`;
    rules.push(`.ansi-fg-${i}{color:${value}}`, `.ansi-bg-${i}{background-color:${value}}`);
  }
  return rules.join("\n");
}
