import assert from "node:assert/strict";
import { test } from "node:test";

import { describeDownload, describeSync } from "../src/syncSummary";

test("a clean sync", () => {
  const result = { uploaded: ["a.py"], unchanged: 3, conflicts: [], skipped: [], failed: [] };
  assert.equal(describeSync(result), "Backend.AI sync: 1 sent, 3 unchanged");
});

test("conflicts, skipped and failed files are counted", () => {
  const result = {
    uploaded: [],
    unchanged: 0,
    conflicts: ["x"],
    skipped: ["big"],
    failed: ["y", "z"],
  };
  assert.equal(
    describeSync(result),
    "Backend.AI sync: 0 sent, 0 unchanged, 1 changed in the session, 1 over the size limit, 2 failed",
  );
});

test("a download names the local files it kept and the copies it wrote beside them", () => {
  assert.equal(
    describeDownload({ files: ["a.txt"], kept: [], copies: [] }),
    "Backend.AI: downloaded 1 file(s)",
  );
  const kept = { files: ["a.txt", "b.txt"], kept: ["a.txt"], copies: ["b (session copy).txt"] };
  assert.equal(
    describeDownload(kept),
    "Backend.AI: downloaded 2 file(s); kept your local a.txt; " +
      "the session's copy beside it: b (session copy).txt",
  );
});
