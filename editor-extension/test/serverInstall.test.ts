import assert from "node:assert/strict";
import { test } from "node:test";

import { pipInstallArgs, wheelhouse } from "../src/serverInstall";

test("no wheelhouse: pip installs the wheel's dependencies from the package index", () => {
  assert.equal(wheelhouse("", {}), undefined);
  assert.deepEqual(pipInstallArgs("/ext/wheels/b.whl", undefined), [
    "-m",
    "pip",
    "install",
    "--disable-pip-version-check",
    "--upgrade",
    "/ext/wheels/b.whl",
  ]);
});

test("a wheelhouse: pip uses only that folder, never an index", () => {
  const args = pipInstallArgs("/ext/wheels/b.whl", "/srv/wheels");
  assert.deepEqual(args.slice(-4), [
    "--no-index",
    "--find-links",
    "/srv/wheels",
    "/ext/wheels/b.whl",
  ]);
});

test("the setting wins over BAI_BRIDGE_WHEELHOUSE; blanks count as unset", () => {
  const env = { BAI_BRIDGE_WHEELHOUSE: " /from/env " };
  assert.equal(wheelhouse("", env), "/from/env");
  assert.equal(wheelhouse(" /from/setting ", env), "/from/setting");
  assert.equal(wheelhouse("  ", { BAI_BRIDGE_WHEELHOUSE: " " }), undefined);
});
