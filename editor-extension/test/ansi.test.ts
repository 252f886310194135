import assert from "node:assert/strict";
import { test } from "node:test";

import { ansiToHtml, applySgr, rgbTo256, stripAnsi } from "../src/ansi";
import { colour256, paletteCss } from "../src/ansiPalette";

test("plain text is escaped", () => {
  assert.equal(
    ansiToHtml(`<script>alert("x")</script> & 'q'`),
    "&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; &#39;q&#39;",
  );
});

test("basic and bright colours become classes", () => {
  assert.equal(ansiToHtml("\x1b[31mred\x1b[0m plain"), '<span class="ansi-fg-1">red</span> plain');
  assert.equal(ansiToHtml("\x1b[1;92mok"), '<span class="ansi-fg-10 ansi-bold">ok</span>');
  assert.equal(ansiToHtml("\x1b[44mbg\x1b[49mno"), '<span class="ansi-bg-4">bg</span>no');
});

test("256 and true colours", () => {
  assert.equal(ansiToHtml("\x1b[38;5;202mx"), '<span class="ansi-fg-202">x</span>');
  assert.equal(ansiToHtml("\x1b[48;2;255;0;0mx"), '<span class="ansi-bg-196">x</span>');
  assert.equal(rgbTo256(128, 128, 128), 244);
});

test("styles reset and toggle", () => {
  const bold = applySgr({}, "1");
  assert.deepEqual(applySgr(bold, "22"), { bold: false, dim: false });
  assert.deepEqual(applySgr(bold, ""), {});
  assert.equal(
    ansiToHtml("\x1b[7minv"),
    '<span class="ansi-inverse-fg ansi-inverse-bg">inv</span>',
  );
});

test("non-colour escapes are dropped", () => {
  assert.equal(ansiToHtml("a\x1b[2Kb\x1b]0;title\x07c\x1b[?25ld"), "abcd");
  assert.equal(stripAnsi("\x1b[1;31mError\x1b[0m: x"), "Error: x");
});

test("the palette covers 256 colours both ways", () => {
  const css = paletteCss();
  assert.match(css, /\.ansi-fg-1\{color:var\(--vscode-terminal-ansiRed\)\}/);
  assert.match(css, /\.ansi-bg-255\{background-color:#eeeeee\}/);
  assert.equal(colour256(16), "#000000");
  assert.equal(colour256(196), "#ff0000");
});
