import assert from "node:assert/strict";
import { test } from "node:test";

import { TextBuffer, fold, showMore } from "../src/textBuffer";

test("lines accumulate across chunks", () => {
  const buffer = new TextBuffer();
  buffer.append("a\nb");
  buffer.append("c\n");
  assert.equal(buffer.lineCount, 2);
  assert.equal(buffer.text(), "a\nbc");
});

test("a carriage return rewrites the current line", () => {
  const buffer = new TextBuffer();
  buffer.append("progress 10%\rprogress 50%");
  buffer.append("\rprogress 100%\r\ndone\n");
  assert.equal(buffer.text(), "progress 100%\ndone");
});

test("head shows only the first lines", () => {
  const buffer = new TextBuffer();
  buffer.append(Array.from({ length: 1000 }, (_, i) => `line ${i}`).join("\n"));
  assert.equal(buffer.lineCount, 1000);
  assert.equal(buffer.head(2), "line 0\nline 1");
});

test("fold and show more", () => {
  assert.deepEqual(fold(1000, 200), { shown: 200, hidden: 800 });
  assert.deepEqual(fold(10, 200), { shown: 10, hidden: 0 });
  assert.equal(showMore(200, 200, 1000), 1000);
  assert.equal(showMore(200, 20, 1000), 400);
});
