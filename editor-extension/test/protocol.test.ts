// The vocabulary must be spelled exactly as server/bai_bridge/lsp/protocol.py spells it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";

import * as protocol from "../src/protocol";

const PYTHON = path.resolve(__dirname, "../../../server/bai_bridge/lsp/protocol.py");

function pythonConstants(): Map<string, string> {
  const source = readFileSync(PYTHON, "utf8");
  const constants = new Map<string, string>();
  for (const match of source.matchAll(/^([A-Z_]+) = "([^"]+)"$/gm)) {
    constants.set(match[1] ?? "", match[2] ?? "");
  }
  return constants;
}

function camel(name: string): string {
  return name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

test("methods match the server's", () => {
  const python = pythonConstants();
  assert.equal(python.get("SESSION_STATUS"), protocol.SESSION_STATUS);
  assert.equal(python.get("OUTPUT"), protocol.OUTPUT);
  assert.equal(python.get("INPUT_REQUEST"), protocol.INPUT_REQUEST);
});

test("session states match the server's, reconnecting among them", () => {
  const source = readFileSync(PYTHON, "utf8");
  const literal = /^SessionState = Literal\[([^\]]*)\]/m.exec(source)?.[1] ?? "";
  const python = [...literal.matchAll(/"([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(python, [...protocol.SESSION_STATES]);
  assert.ok(python.includes("reconnecting"));
});

test("every server command id is declared, with the same spelling", () => {
  const python = pythonConstants();
  const ours = protocol.ServerCommand as Record<string, string>;
  const commands = [...python.entries()].filter(([, value]) => value.startsWith("bai-bridge."));
  assert.ok(commands.length >= 10);
  for (const [name, value] of commands) assert.equal(ours[camel(name)], value, name);
  assert.equal(Object.keys(ours).length, commands.length);
});
