// Which session changes the open terminals are told of, from the statuses the server pushes.
import assert from "node:assert/strict";
import { test } from "node:test";

import { SessionTerminals } from "../src/terminal/sessionTerminals";

function followed(statuses: [string, string | null][]): string[] {
  const calls: string[] = [];
  const record = (name: string) => (): void => {
    calls.push(name);
  };
  const terminals = new SessionTerminals();
  terminals.add({
    moved: record("moved"),
    restarting: record("restarting"),
    restarted: record("restarted"),
    ending: record("ending"),
    ended: record("ended"),
    started: record("started"),
  });
  for (const [state, id] of statuses) terminals.sessionState(state, id);
  return calls;
}

test("destroy, then a new session: the terminal ends with it and moves to the new one", () => {
  const calls = followed([
    ["running", "s1"],
    ["destroying", "s1"],
    ["terminated", null],
    ["starting", null],
    ["busy", "s2"],
    ["running", "s2"],
  ]);
  assert.deepEqual(calls, ["started", "ending", "ended", "moved", "started"]);
});

test("a session without an id (API v4): the new one is told by its running state", () => {
  const calls = followed([
    ["running", null],
    ["destroying", null],
    ["terminated", null],
    ["starting", null],
    ["running", null],
  ]);
  assert.deepEqual(calls, ["started", "ending", "ended", "started"]);
});

test("a restart, a failed restart, and a terminated session", () => {
  assert.deepEqual(
    followed([
      ["running", "s1"],
      ["restarting", "s1"],
      ["running", "s1"],
      ["restarting", "s1"],
      ["error", "s1"],
      ["terminated", null],
    ]),
    ["started", "restarting", "restarted", "restarting", "restarted", "ended"],
  );
});
