"""Row 2: run `1+1`, from the LSP run command to the final output, next to a direct
execute_request on a Jupyter kernel (reply and idle status)."""

from __future__ import annotations

import asyncio

from bench import bridge, kernels
from bench.config import BenchConfig
from bench.stats import Figure, Summary, ratio, skipped

ROW = "2"
CODE = "1+1"
WARMUP = 3
GOAL = "ratio ≤ 1.5 at p50"


def direct(cfg: BenchConfig) -> Summary:
    samples = []
    with kernels.jupyter_kernel(cfg.work_dir) as client:
        for i in range(WARMUP + cfg.trials):
            elapsed, texts = kernels.execute(client, CODE)
            if "2" not in "".join(texts):
                raise RuntimeError(f"unexpected output {texts!r}")
            if i >= WARMUP:
                samples.append(elapsed * 1000)
    return Summary.of(samples)


async def through_bridge(cfg: BenchConfig) -> Summary:
    samples = []
    async with bridge.bridge(cfg, "row2") as (client, workspace):
        path = workspace / "one.py"
        path.write_text(CODE + "\n")
        uri = client.open(path)
        for i in range(WARMUP + cfg.trials):
            since = len(client.outputs)
            elapsed, _ = await bridge.run_selection(client, uri, 0, 1)
            if "2" not in bridge.output_text(client, since):
                raise RuntimeError("the run's output lacks its result")
            if i >= WARMUP:
                samples.append(elapsed * 1000)
    return Summary.of(samples)


async def run(cfg: BenchConfig) -> list[Figure]:
    baseline = await asyncio.to_thread(direct, cfg)
    mine, reason = await bridge.attempt(through_bridge, cfg)
    if reason:
        figure = skipped(ROW, "run `1+1`", "ms", reason, goal=GOAL)
        figure.baseline, figure.baseline_name = baseline, "direct execute_request"
        return [figure]
    assert mine is not None
    r = ratio(mine, baseline)
    return [
        Figure(ROW, "run `1+1`", "ms", mine, baseline, "direct execute_request", r, GOAL,
               r is not None and r <= 1.5, headline=True),
    ]  # fmt: skip
