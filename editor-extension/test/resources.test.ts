import assert from "node:assert/strict";
import { test } from "node:test";

import { describeResourcesLong, describeResourcesShort, formatBytes } from "../src/resources";

const GIB = 2 ** 30;

test("sizes read in binary units", () => {
  assert.equal(formatBytes(GIB), "1 GiB");
  assert.equal(formatBytes(1.5 * GIB), "1.5 GiB");
  assert.equal(formatBytes(300 * 2 ** 20), "300 MiB");
  assert.equal(formatBytes(512), "512 B");
});

test("the bar shows the slots, and the usage where the server reports it", () => {
  assert.equal(describeResourcesShort({ cpu: 2, memory: 4 * GIB }), "2 CPU · 4 GiB");
  assert.equal(
    describeResourcesShort({ cpu: 2, memory: 4 * GIB, cpuPercent: 87.4, memoryUsed: 1.2 * GIB }),
    "2 CPU 87% · 1.2 GiB/4 GiB",
  );
  assert.equal(
    describeResourcesShort({ cpu: 4, memory: 16 * GIB, gpu: 1, fgpu: 0.5 }),
    "4 CPU · 16 GiB · 1 GPU · 0.5 fGPU",
  );
  assert.equal(describeResourcesShort({ gpu: 0, fgpu: 0 }), "");
});

test("unknown values are left out, never shown as NaN or null", () => {
  assert.equal(describeResourcesShort(undefined), "");
  assert.equal(describeResourcesShort(null), "");
  assert.equal(
    describeResourcesShort({ cpu: null, memory: null, memoryUsed: 300 * 2 ** 20 }),
    "300 MiB used",
  );
  assert.deepEqual(describeResourcesLong({}), []);
});

test("the tooltip says what is allocated and what is in use", () => {
  assert.deepEqual(
    describeResourcesLong({ cpu: 2, memory: GIB, fgpu: 0.25, cpuPercent: 12, memoryUsed: GIB / 4 }),
    [
      "allocated: 2 CPU core(s), 1 GiB memory, 0.25 fractional GPU",
      "in use: CPU 12%, memory 256 MiB",
    ],
  );
});
