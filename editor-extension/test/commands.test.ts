// Every command the extension contributes has a handler, and every handler is contributed
// (read from the sources: the handlers' module needs VS Code to load).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

const ROOT = path.resolve(__dirname, "../..");

interface Manifest {
  contributes: { commands: { command: string; title: string }[] };
}

function manifest(): Manifest {
  return JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as Manifest;
}

function handled(): string[] {
  const read = (file: string) => readFileSync(path.join(ROOT, "src", file), "utf8");
  const commands = read("commands.ts");
  const table = commands.slice(commands.indexOf("export function commandTable"));
  const ids = [...table.matchAll(/^ {4}"(baiBridge\.\w+)":/gm)].map((m) => m[1] ?? "");
  const elsewhere = [...read("extension.ts").matchAll(/registerCommand\("(baiBridge\.\w+)"/g)];
  return [...ids, ...elsewhere.map((m) => m[1] ?? "")].sort();
}

test("every contributed command has a handler and every handler is contributed", () => {
  const contributed = manifest().contributes.commands.map((c) => c.command);
  assert.deepEqual(handled(), [...contributed].sort());
});

test("Run File and Run File as Job are both in the palette, named apart", () => {
  const titles = new Map(manifest().contributes.commands.map((c) => [c.command, c.title]));
  assert.equal(titles.get("baiBridge.runFile"), "Run File");
  assert.equal(titles.get("baiBridge.runFileAsJob"), "Run File as Job");
});
