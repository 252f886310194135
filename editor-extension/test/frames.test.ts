import assert from "node:assert/strict";
import { test } from "node:test";

import {
  TerminalDecoder,
  decodeFrame,
  encodePing,
  encodeResize,
  encodeStdin,
} from "../src/terminal/frames";

const out = (text: string): string =>
  JSON.stringify({ type: "out", data: Buffer.from(text, "utf8").toString("base64") });

function bytesOf(frame: ReturnType<typeof decodeFrame>): string {
  if (frame.type !== "out") assert.fail(`expected an out frame, got ${frame.type}`);
  return Buffer.from(frame.bytes).toString("utf8");
}

test("text frames carry base64 terminal bytes", () => {
  assert.equal(bytesOf(decodeFrame(out("$ echo hi\r\nhi\r\n"))), "$ echo hi\r\nhi\r\n");
});

test("binary frames carry the same JSON (newer managers)", () => {
  assert.equal(bytesOf(decodeFrame(Buffer.from(out("bin"), "utf8"))), "bin");
  const view = new Uint8Array(Buffer.from(out("ab"), "utf8"));
  assert.equal(bytesOf(decodeFrame(view.buffer)), "ab");
  const whole = Buffer.from(out("split"), "utf8");
  assert.equal(bytesOf(decodeFrame([whole.subarray(0, 5), whole.subarray(5)])), "split");
});

test("errors and junk never throw", () => {
  assert.deepEqual(decodeFrame(JSON.stringify({ type: "error", data: "gone" })), {
    type: "error",
    message: "gone",
  });
  assert.equal(decodeFrame("not json").type, "ignored");
  assert.equal(decodeFrame("42").type, "ignored");
  assert.equal(decodeFrame(JSON.stringify({ type: "pong" })).type, "ignored");
});

test("client messages", () => {
  const stdin = JSON.parse(encodeStdin("ls ü\r")) as { type: string; chars: string };
  assert.equal(stdin.type, "stdin");
  assert.equal(Buffer.from(stdin.chars, "base64").toString("utf8"), "ls ü\r");
  assert.deepEqual(JSON.parse(encodeResize(24, 80)), { type: "resize", rows: 24, cols: 80 });
  assert.deepEqual(JSON.parse(encodePing()), { type: "ping" });
});

test("a UTF-8 character split across frames stays whole", () => {
  const decoder = new TerminalDecoder();
  const bytes = Buffer.from("€", "utf8");
  assert.equal(decoder.decode(bytes.subarray(0, 1)), "");
  assert.equal(decoder.decode(bytes.subarray(1)), "€");
});
