import assert from "node:assert/strict";
import { test } from "node:test";

import { ReconnectPolicy, isFinalClose } from "../src/terminal/reconnect";

const options = { initialDelayMs: 100, maxDelayMs: 500, maxAttempts: 5, stableAfterMs: 1000 };

test("backoff doubles up to the cap, then waits for the person", () => {
  const policy = new ReconnectPolicy(options);
  const delays = [1, 2, 3, 4, 5].map(() => {
    const decision = policy.onClosed(0);
    return decision.action === "retry" ? decision.delayMs : -1;
  });
  assert.deepEqual(delays, [100, 200, 400, 500, 500]);
  assert.deepEqual(policy.onClosed(0), { action: "wait-for-user" });
  policy.reset();
  assert.deepEqual(policy.onClosed(0), { action: "retry", delayMs: 100, attempt: 1 });
});

test("a connection that stayed up resets the backoff", () => {
  const policy = new ReconnectPolicy(options);
  policy.onClosed(0);
  policy.onClosed(0);
  assert.deepEqual(policy.onClosed(5000), { action: "retry", delayMs: 100, attempt: 1 });
});

test("final close codes", () => {
  assert.equal(isFinalClose(1000), true);
  assert.equal(isFinalClose(4001), true);
  assert.equal(isFinalClose(1006), false);
  assert.equal(isFinalClose(1011), false);
});
