import assert from "node:assert/strict";
import { test } from "node:test";

import { OutputModel, imageSource, renderRun } from "../src/outputModel";

const PNG = "data:image/png;base64,iVBORw0KGgo=";

test("a run's items keep their order; consecutive text of one stream merges", () => {
  const model = new OutputModel(200);
  model.apply({ runId: "r1", event: "start", label: "cell 1" });
  model.apply({ runId: "r1", event: "output", items: [{ kind: "stdout", data: "a\n" }] });
  model.apply({
    runId: "r1",
    event: "output",
    items: [
      { kind: "stdout", data: "b\n" },
      { kind: "stderr", data: "warn\n" },
      { kind: "media", mime: "image/png", data: PNG },
      { kind: "html", data: "<table><tr><td>1</td></tr></table>" },
    ],
  });
  model.apply({ runId: "r1", event: "end", status: "finished", exitCode: 0 });
  const run = model.find("r1");
  assert.ok(run);
  const rendered = renderRun(run);
  assert.equal(rendered.status, "finished");
  assert.deepEqual(
    rendered.items.map((item) => item.kind),
    ["text", "text", "image", "html"],
  );
  assert.deepEqual(rendered.items[0], { kind: "text", stream: "stdout", html: "a\nb", hidden: 0 });
  assert.deepEqual(rendered.items[2], { kind: "image", src: PNG, alt: "image/png" });
});

test("the end's items are the run's last output, shown before its status", () => {
  const model = new OutputModel(200);
  model.apply({ runId: "r2", event: "start", label: "line 1" });
  model.apply({ runId: "r2", event: "output", items: [{ kind: "stdout", data: "a\n" }] });
  model.apply({
    runId: "r2",
    event: "end",
    status: "finished",
    items: [{ kind: "stdout", data: "2\n" }],
  });
  const run = model.find("r2");
  assert.ok(run);
  const rendered = renderRun(run);
  assert.equal(rendered.status, "finished");
  assert.deepEqual(rendered.items, [{ kind: "text", stream: "stdout", html: "a\n2", hidden: 0 }]);
});

test("a short run's lone end makes the whole run", () => {
  const model = new OutputModel(200);
  model.apply({
    runId: "r3",
    event: "end",
    label: "line 4",
    uri: "file:///w/a.py",
    status: "finished",
    items: [{ kind: "stdout", data: "42\n" }],
  });
  const run = model.find("r3");
  assert.ok(run);
  assert.equal(run.label, "line 4");
  assert.equal(run.uri, "file:///w/a.py");
  assert.deepEqual(renderRun(run).items, [
    { kind: "text", stream: "stdout", html: "42", hidden: 0 },
  ]);
});

test("output for an unknown run starts one", () => {
  const model = new OutputModel(200);
  model.apply({ runId: "x", event: "output", items: [{ kind: "stdout", data: "hi" }] });
  assert.equal(model.all().length, 1);
  assert.equal(model.find("x")?.label, "run");
});

test("long text folds and unfolds on request", () => {
  const model = new OutputModel(10);
  model.apply({ runId: "r", event: "start", label: "big" });
  const text = Array.from({ length: 500 }, (_, i) => String(i)).join("\n");
  model.apply({ runId: "r", event: "output", items: [{ kind: "stdout", data: text }] });
  const run = model.find("r");
  assert.ok(run);
  assert.deepEqual(renderRun(run).items[0], {
    kind: "text",
    stream: "stdout",
    html: Array.from({ length: 10 }, (_, i) => String(i)).join("\n"),
    hidden: 490,
  });
  assert.equal(model.expand("r", 0), true);
  const after = renderRun(run).items[0];
  assert.equal(after?.kind === "text" ? after.hidden : -1, 390);
  assert.equal(model.expand("r", 5), false);
});

test("images: SVG text becomes a data URI, bare base64 PNG too, others are a note", () => {
  const svg = imageSource({
    kind: "media",
    mime: "image/svg+xml",
    data: "<svg xmlns='http://www.w3.org/2000/svg'/>",
  });
  assert.ok(svg?.src.startsWith("data:image/svg+xml;base64,"));
  assert.equal(imageSource({ kind: "media", mime: "image/png", data: "iVBORw0KGgo=" })?.src, PNG);
  assert.equal(imageSource({ kind: "media", mime: "image/png", data: "<svg onload=x>" }), null);
  const model = new OutputModel(10);
  model.apply({
    runId: "r",
    event: "output",
    items: [{ kind: "media", mime: "application/pdf", data: "x" }],
  });
  const run = model.find("r");
  assert.ok(run);
  assert.deepEqual(renderRun(run).items[0], {
    kind: "note",
    text: "(output of type application/pdf is not shown)",
  });
});

test("only the newest runs are kept", () => {
  const model = new OutputModel(10, 3);
  for (let i = 0; i < 5; i++) model.apply({ runId: `r${i}`, event: "start", label: `run ${i}` });
  assert.deepEqual(
    model.all().map((run) => run.runId),
    ["r2", "r3", "r4"],
  );
});
