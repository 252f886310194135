// Terminal-like following for the output view, kept free of the DOM so it can be unit-tested:
// pinned to the bottom until the person scrolls up; pinned again when they scroll back down
// or a new run starts. Loaded by the webview (window.baiBridgeFollow) and by node's tests.
(function (root) {
  "use strict";

  /** Within this many pixels of the end counts as "at the bottom" (fractional zoom offsets). */
  const SLACK = 6;

  function createFollower() {
    let pinned = true;
    let lastTop = 0;
    return {
      /** Whether new output should scroll the view to the bottom. */
      get pinned() {
        return pinned;
      },
      /** A scroll event: `top` is the scroll offset, `max` the largest one. Only the person
       * moves the view up (our own scrolls go down, content growth does not scroll). */
      scrolled(top, max) {
        if (top < lastTop - 1) pinned = false;
        if (max - top <= SLACK) pinned = true;
        lastTop = top;
      },
      /** We scrolled to `top` ourselves: its scroll event is not the person's doing. */
      movedTo(top) {
        lastTop = top;
      },
      /** The person asked to read something (e.g. "show more"): stay where they are. */
      hold() {
        pinned = false;
      },
      /** A new run: bring it into view and follow it. */
      runStarted() {
        pinned = true;
      },
    };
  }

  const api = { createFollower, SLACK };
  if (typeof module === "object" && module.exports) module.exports = api;
  else root.baiBridgeFollow = api;
})(this);
