import assert from "node:assert/strict";
import { test } from "node:test";

import { nextExtraPaths } from "../src/extraPaths";
import type { PackagePaths } from "../src/protocol";

const ROOT = "/home/me/.cache/bai-bridge/session-env";
const report: PackagePaths = {
  python: "3.11.7",
  view: `${ROOT}/views/ws-1234`,
  paths: [`${ROOT}/packages/torch-ab`, `${ROOT}/packages/tiny-cd`],
  cacheRoot: ROOT,
};

test("with the setting on, the view folder follows the person's own entries", () => {
  assert.deepEqual(nextExtraPaths(["./src"], report, true), ["./src", `${ROOT}/views/ws-1234`]);
});

test("nothing changes when the setting already holds it", () => {
  assert.equal(nextExtraPaths(["./src", `${ROOT}/views/ws-1234`], report, true), undefined);
  assert.equal(nextExtraPaths(["./src"], report, false), undefined);
});

test("without a view each package folder is listed, replacing what was ours before", () => {
  const noView = { ...report, view: null };
  assert.deepEqual(nextExtraPaths([`${ROOT}/views/old`, "lib"], noView, true), [
    "lib",
    ...report.paths,
  ]);
});

test("turning the setting off takes out only our entries", () => {
  assert.deepEqual(nextExtraPaths(["lib", `${ROOT}/views/ws-1234`], report, false), ["lib"]);
  // A folder beside the cache that merely starts with its name is the person's.
  assert.equal(nextExtraPaths([`${ROOT}-mine`], report, false), undefined);
});
