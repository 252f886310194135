import assert from "node:assert/strict";
import { test } from "node:test";

import type { SessionEntry } from "../src/protocol";
import { SessionMemory, type StateStore } from "../src/sessionMemory";
import { describeSession, formatAge, pickItems } from "../src/sessionPicker";

const GIB = 2 ** 30;

const webui: SessionEntry = {
  id: "5f1c0d9e-0000-4000-8000-000000000001",
  name: "webui-train",
  image: "cr.backend.ai/stable/python-pytorch:2.3",
  status: "RUNNING",
  createdAt: "2026-12-04T01:00:00+00:00",
  ageSeconds: 7300,
  resources: { cpu: 4, memory: 16 * GIB, fgpu: 0.5 },
  current: false,
};

test("ages read as a person says them", () => {
  assert.equal(formatAge(12), "just now");
  assert.equal(formatAge(300), "5 min");
  assert.equal(formatAge(7300), "2 h");
  assert.equal(formatAge(86_400), "1 day");
  assert.equal(formatAge(3 * 86_400 + 5), "3 days");
  assert.equal(formatAge(null), "");
  assert.equal(formatAge(-1), "");
});

test("New session comes first, then each session with image · status · age and resources", () => {
  const items = pickItems({ sessions: [webui], totalCount: 1 });
  assert.equal(items.length, 2);
  assert.equal(items[0]?.label, "$(add) New session");
  assert.deepEqual(items[0].action, { kind: "new" });
  assert.equal(items[0].detail, undefined);
  assert.deepEqual(items[1], {
    label: "webui-train",
    description: "cr.backend.ai/stable/python-pytorch:2.3 · RUNNING · started 2 h ago",
    detail: "4 CPU · 16 GiB · 0.5 fGPU",
    action: { kind: "attach", id: webui.id, name: "webui-train", current: false },
  });
});

test("the current session is marked; what the server did not say is left out", () => {
  const own: SessionEntry = { id: "abc", name: "mine", current: true, ageSeconds: 30 };
  const [, item] = pickItems({ sessions: [own], totalCount: 1 });
  assert.equal(item?.label, "$(check) mine");
  assert.equal(item.description, "started just now");
  assert.equal(item.detail, "the session this editor works in");
  assert.equal(describeSession({ id: "x", name: "x", current: false }), "");
});

test("a list cut at its limit says how many are not shown; no list is just New session", () => {
  const items = pickItems({ sessions: [webui], totalCount: 130 });
  assert.equal(items[0]?.detail, "129 more session(s) not listed");
  assert.deepEqual(
    pickItems(null).map((item) => item.label),
    ["$(add) New session"],
  );
});

class Store implements StateStore {
  readonly values = new Map<string, unknown>();
  get(key: string): unknown {
    return this.values.get(key);
  }
  update(key: string, value: unknown): Thenable<void> {
    this.values.set(key, value);
    return Promise.resolve();
  }
}

test("the chosen session is remembered per workspace folder and offered at the next start", async () => {
  const store = new Store();
  let folders: string[] = ["file:///work/a"];
  const memory = new SessionMemory(store, () => folders);
  assert.deepEqual(memory.serverOption(), {});
  await memory.remember(webui.id, webui.name);
  assert.deepEqual(memory.serverOption(), { attachSession: webui.id });
  assert.deepEqual(memory.get(), { id: webui.id, name: "webui-train" });
  folders = ["file:///work/b"];
  assert.deepEqual(memory.serverOption(), {});
  await memory.remember(null, "not started");
  assert.equal(memory.get(), undefined);
  folders = [];
  await memory.remember("id", "no folder");
  assert.deepEqual([...store.values.keys()], ["baiBridge.session:file:///work/a"]);
});

test("a window of several folders remembers its session for each; the first folder that has one is read", async () => {
  const store = new Store();
  store.values.set("baiBridge.session:file:///work/b", { id: "b-session", name: "b" });
  let folders = ["file:///work/a", "file:///work/b", "file:///work/c"];
  const memory = new SessionMemory(store, () => folders);
  assert.deepEqual(memory.get(), { id: "b-session", name: "b" }); // a has none: b's is read
  await memory.remember(webui.id, webui.name);
  for (const folder of folders) {
    assert.deepEqual(store.values.get(`baiBridge.session:${folder}`), {
      id: webui.id,
      name: "webui-train",
    });
  }
  folders = ["file:///work/c"]; // c opened alone later finds the session it worked in
  assert.deepEqual(memory.serverOption(), { attachSession: webui.id });
  let writes = 0;
  const counting = new SessionMemory(
    {
      get: (key) => store.get(key),
      update: (key, value) => {
        writes += 1;
        return store.update(key, value);
      },
    },
    () => ["file:///work/a", "file:///work/b"],
  );
  await counting.remember(webui.id, webui.name); // already remembered everywhere
  assert.equal(writes, 0);
});
