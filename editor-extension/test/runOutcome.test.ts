import assert from "node:assert/strict";
import { test } from "node:test";

import { runOutcome } from "../src/runOutcome";

test("a run still going is running", () => {
  assert.deepEqual(runOutcome(null, null), { text: "running", tone: "running" });
});

test("a clean run is finished", () => {
  assert.deepEqual(runOutcome("finished", null), { text: "finished", tone: "finished" });
  assert.deepEqual(runOutcome("finished", 0), { text: "finished", tone: "finished" });
});

test("an interrupted run says so, whatever exit code the kernel gave", () => {
  assert.deepEqual(runOutcome("interrupted", null), { text: "interrupted", tone: "interrupted" });
  assert.deepEqual(runOutcome("interrupted", 130), { text: "interrupted", tone: "interrupted" });
});

test("a traceback or a non-zero exit code is a failure, with the exit code when there is one", () => {
  assert.deepEqual(runOutcome("failed", null), { text: "failed", tone: "failed" });
  assert.deepEqual(runOutcome("failed", 1), { text: "failed, exit 1", tone: "failed" });
  assert.deepEqual(runOutcome("finished", 2), { text: "failed, exit 2", tone: "failed" });
});

test("time-outs, bridge errors and unknown statuses are not shown as finished", () => {
  assert.deepEqual(runOutcome("exec-timeout", null), { text: "timed out", tone: "failed" });
  assert.deepEqual(runOutcome("exec-timeout", 137), {
    text: "timed out, exit 137",
    tone: "failed",
  });
  assert.deepEqual(runOutcome("error", null), { text: "could not run", tone: "failed" });
  assert.deepEqual(runOutcome("mystery", null), { text: "mystery", tone: "failed" });
});
