import assert from "node:assert/strict";
import { createRequire } from "node:module";
import * as path from "node:path";
import { test } from "node:test";

// The webview's follow logic is plain JS (media/follow.js), loaded here as CommonJS.
interface Follower {
  readonly pinned: boolean;
  scrolled(top: number, max: number): void;
  movedTo(top: number): void;
  hold(): void;
  runStarted(): void;
}
const { createFollower } = createRequire(__filename)(
  path.join(__dirname, "..", "..", "media", "follow.js"),
) as { createFollower: () => Follower };

test("a fresh view follows new output", () => {
  assert.equal(createFollower().pinned, true);
});

test("scrolling up stops following; scrolling back to the bottom resumes", () => {
  const follower = createFollower();
  follower.movedTo(900); // our own scroll to the bottom (max 900)
  follower.scrolled(900, 900); // ...and its scroll event
  assert.equal(follower.pinned, true);
  follower.scrolled(600, 1400); // the person scrolls up while output grows
  assert.equal(follower.pinned, false);
  follower.scrolled(1000, 1800); // down a little, still far from the end: leave them be
  assert.equal(follower.pinned, false);
  follower.scrolled(1797, 1800); // back at the end
  assert.equal(follower.pinned, true);
});

test("output growing below the view does not count as the person scrolling away", () => {
  const follower = createFollower();
  follower.movedTo(500);
  // Content grew (max is now far below) and the scroll event of our scroll arrives late.
  follower.scrolled(500, 5000);
  assert.equal(follower.pinned, true);
});

test("a new run is brought into view even after the person scrolled up", () => {
  const follower = createFollower();
  follower.movedTo(900);
  follower.scrolled(200, 900);
  assert.equal(follower.pinned, false);
  follower.runStarted();
  assert.equal(follower.pinned, true);
});

test("show more holds the view where the person is reading", () => {
  const follower = createFollower();
  follower.hold();
  assert.equal(follower.pinned, false);
  follower.scrolled(0, 3000);
  assert.equal(follower.pinned, false);
});
