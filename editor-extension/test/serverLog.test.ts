import assert from "node:assert/strict";
import { test } from "node:test";

import { ServerLogReader } from "../src/serverLog";

test("each record keeps its level and loses the server's time stamp", () => {
  const reader = new ServerLogReader();
  const lines = [
    "2026-12-03 21:55:46,123 INFO bai_bridge.lsp.server: session started",
    "2026-12-03 21:55:46,124 DEBUG bai_bridge.api: GET /sessions",
    "2026-12-03 21:55:47,001 WARNING bai_bridge.lsp.sync: a.py skipped",
    "2026-12-03 21:55:48,002 CRITICAL bai_bridge: out of memory",
  ].map((line) => reader.read(line));
  assert.deepEqual(lines, [
    { level: "info", message: "bai_bridge.lsp.server: session started" },
    { level: "debug", message: "bai_bridge.api: GET /sessions" },
    { level: "warn", message: "bai_bridge.lsp.sync: a.py skipped" },
    { level: "error", message: "bai_bridge: out of memory" },
  ]);
});

test("a traceback belongs to the record above it", () => {
  const reader = new ServerLogReader();
  reader.read("2026-12-03 21:55:46,123 ERROR bai_bridge.lsp.runs: the run failed");
  assert.deepEqual(reader.read("Traceback (most recent call last):"), {
    level: "error",
    message: "Traceback (most recent call last):",
  });
  reader.read("2026-12-03 21:55:46,200 INFO bai_bridge.lsp.server: line one");
  assert.equal(reader.read("  line two").level, "info");
});

test("output before the first record is an error", () => {
  const reader = new ServerLogReader();
  assert.equal(reader.read("ModuleNotFoundError: No module named 'pygls'").level, "error");
});
