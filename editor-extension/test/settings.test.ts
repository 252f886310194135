import assert from "node:assert/strict";
import { test } from "node:test";

import { CrashPolicy } from "../src/crashPolicy";
import {
  type Settings,
  needsRestart,
  ownsRunKeys,
  serverEnvironment,
  initializationOptions,
  serverOptions,
} from "../src/settings";

const base: Settings = {
  interpreter: "",
  serverWheelhouse: "",
  endpoint: "",
  serverProfile: "embedded",
  accessKey: "",
  image: "python:3.11-ubuntu22.04",
  resources: { cpu: 2 },
  mounts: [],
  syncExcludes: [".git/"],
  sessionName: "",
  syncOnStart: true,
  namespaceMirror: true,
  outputFoldLines: 200,
  runKeys: "auto",
  sessionExtraPaths: false,
};

test("no endpoint: the environment leaves BACKEND_* alone (embedded server)", () => {
  const env = serverEnvironment(base, undefined, { PATH: "/bin", BACKEND_ENDPOINT: "http://x" });
  assert.equal(env.BACKEND_ENDPOINT, "http://x");
  assert.equal(env.BACKEND_SECRET_KEY, undefined);
  assert.equal(env.PATH, "/bin");
});

test("the server profile goes to the environment, over the editor's own", () => {
  assert.equal(serverEnvironment(base, undefined, {}).BAI_BRIDGE_PROFILE, "embedded");
  const settings: Settings = { ...base, serverProfile: "cluster" };
  const env = serverEnvironment(settings, undefined, { BAI_BRIDGE_PROFILE: "embedded" });
  assert.equal(env.BAI_BRIDGE_PROFILE, "cluster");
  assert.doesNotMatch(JSON.stringify(serverOptions(settings)), /cluster|profile/i);
});

test("endpoint, access key and the secret go to the environment", () => {
  const settings = { ...base, endpoint: " https://api.example.org ", accessKey: "AKIA" };
  const env = serverEnvironment(settings, "s3cret", {});
  assert.equal(env.BACKEND_ENDPOINT, "https://api.example.org");
  assert.equal(env.BACKEND_ACCESS_KEY, "AKIA");
  assert.equal(env.BACKEND_SECRET_KEY, "s3cret");
});

test("the secret never reaches the server options", () => {
  const options = serverOptions({ ...base, endpoint: "https://e", sessionName: "my-session" });
  assert.deepEqual(options, {
    image: "python:3.11-ubuntu22.04",
    resources: { cpu: 2 },
    mounts: [],
    syncExcludes: [".git/"],
    syncOnStart: true,
    namespaceMirror: true,
    endpoint: "https://e",
    sessionName: "my-session",
  });
  assert.doesNotMatch(JSON.stringify(options), /s3cret|accessKey|secret/i);
});

test("initializationOptions carry the session's settings under baiBridge", () => {
  // The server starts its session from this section without waiting for workspace/
  // configuration; the answer (serverOptions of the same settings) must change nothing.
  const settings = { ...base, endpoint: "https://e", sessionName: "my-session" };
  const options = initializationOptions(settings, { attachSession: "chosen-before" });
  assert.deepEqual(Object.keys(options), ["baiBridge"]);
  const section = options.baiBridge as Record<string, unknown>;
  assert.deepEqual(section, { ...serverOptions(settings), attachSession: "chosen-before" });
  for (const key of ["image", "resources", "mounts", "sessionName", "endpoint"]) {
    assert.ok(key in section, key);
  }
  assert.doesNotMatch(JSON.stringify(options), /secret|accessKey/i);
});

test("only start-time settings restart the server", () => {
  assert.equal(needsRestart(base, { ...base, image: "other" }), false);
  assert.equal(needsRestart(base, { ...base, endpoint: "https://e" }), true);
  assert.equal(needsRestart(base, { ...base, interpreter: "/usr/bin/python3" }), true);
  assert.equal(needsRestart(base, { ...base, serverProfile: "cluster" }), true);
  assert.equal(needsRestart(base, { ...base, namespaceMirror: false }), true);
});

test("the namespace mirror setting reaches the server as namespaceMirror", () => {
  assert.equal(serverOptions(base).namespaceMirror, true);
  assert.equal(serverOptions({ ...base, namespaceMirror: false }).namespaceMirror, false);
});

test("run keys: auto yields to the Python and Jupyter extensions", () => {
  assert.equal(ownsRunKeys("auto", false), true);
  assert.equal(ownsRunKeys("auto", true), false);
  assert.equal(ownsRunKeys("on", true), true);
  assert.equal(ownsRunKeys("off", false), false);
});

test("crashes restart until too many come in a short window", () => {
  const policy = new CrashPolicy(2, 1000);
  assert.equal(policy.onCrash(0).restart, true);
  assert.equal(policy.onCrash(10).restart, true);
  const third = policy.onCrash(20);
  assert.equal(third.restart, false);
  assert.match(third.message, /not restarted/);
  assert.equal(policy.onCrash(5000).restart, true);
});
