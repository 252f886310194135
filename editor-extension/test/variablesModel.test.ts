import assert from "node:assert/strict";
import { test } from "node:test";

import type { Variable, VariablesResult } from "../src/protocol";
import { describe, details, rows, shortValue, viewMessage } from "../src/variablesModel";

const frame: Variable = {
  name: "frame",
  kind: "instance",
  type: "pandas.core.frame.DataFrame",
  summary: "DataFrame (2, 2)",
  shape: [2, 2],
  columns: ["price", "qty"],
};
const count: Variable = {
  name: "count",
  kind: "instance",
  type: "builtins.list",
  summary: "list len 3",
  repr: "[1, 2, 3]",
  len: 3,
};
const scale: Variable = {
  name: "scale",
  kind: "function",
  type: "builtins.function",
  summary: "function (values, factor=2.0) -> list",
  doc: "Multiply every value by factor.",
};

function result(variables: Variable[], truncated = false): VariablesResult {
  return { variables, truncated, generation: variables.length ? "7" : null };
}

test("a row shows the summary and, where the server sent one, the short value", () => {
  assert.equal(describe(count), "list len 3 = [1, 2, 3]");
  assert.equal(describe(frame), "DataFrame (2, 2)");
  assert.equal(describe(scale), "function (values, factor=2.0) -> list");
});

test("a long or multi-line value is cut to one short line", () => {
  assert.equal(shortValue("[1,\n 2]"), "[1, 2]");
  const long = shortValue("x".repeat(100));
  assert.equal(long.length, 60);
  assert.ok(long.endsWith("…"));
});

test("one row per name, in the server's order", () => {
  assert.deepEqual(
    rows(result([count, frame])).map((row) => row.variable.name),
    ["count", "frame"],
  );
  assert.deepEqual(rows(undefined), []);
});

test("expanding a row shows what the short row leaves out", () => {
  assert.deepEqual(
    details(frame).map((row) => [row.label, row.value]),
    [
      ["type", "pandas.core.frame.DataFrame"],
      ["shape", "(2, 2)"],
      ["columns", "price, qty"],
    ],
  );
  assert.deepEqual(
    details(scale).map((row) => row.label),
    ["type", "doc"],
  );
  assert.deepEqual(
    details(count).map((row) => [row.label, row.value]),
    [
      ["type", "builtins.list"],
      ["len", "3"],
      ["value", "[1, 2, 3]"],
    ],
  );
});

test("a wide frame's columns are listed up to twenty, with how many more", () => {
  const columns = Array.from({ length: 25 }, (_, i) => `c${i}`);
  const wide = details({ ...frame, columns }).find((row) => row.label === "columns");
  assert.ok(wide?.value.endsWith("c19 … (5 more)"));
});

test("an empty view says why", () => {
  assert.match(viewMessage(undefined, undefined) ?? "", /No session yet/);
  assert.match(viewMessage("starting", undefined) ?? "", /starting/);
  assert.match(viewMessage("terminated", result([count])) ?? "", /ended/);
  assert.match(viewMessage("running", result([])) ?? "", /Nothing defined/);
  assert.match(viewMessage("running", undefined, "server not running") ?? "", /server not run/);
});

test("a full view has no message; a partial one says so", () => {
  assert.equal(viewMessage("running", result([count])), undefined);
  assert.equal(viewMessage("busy", result([count])), undefined);
  assert.match(viewMessage("running", result([count], true)) ?? "", /Partial/);
});
