"""Row 2: run `1+1`, from the LSP run command to the final output, next to a direct
execute_request on a Jupyter kernel (reply and idle status); trials taken in turns."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from bench import bridge, kernels
from bench.config import BenchConfig
from bench.interleave import Probe, interleave
from bench.lsp_client import BenchClient
from bench.stats import Figure, ratio, skipped

ROW = "2"
CODE = "1+1"
WARMUP = 3
GOAL = "ratio ≤ 1.5 at p50"
SYNC, ASYNC, BRIDGE = "direct execute_request", "direct (asyncio client)", "bridge"


def sync_probe(client: object) -> Probe:
    async def once() -> float:
        elapsed, texts = await asyncio.to_thread(kernels.execute, client, CODE)  # type: ignore[arg-type]
        if "2" not in "".join(texts):
            raise RuntimeError(f"unexpected output {texts!r}")
        return elapsed * 1000

    return once


def bridge_probe(client: BenchClient, uri: str) -> Probe:
    async def once() -> float:
        since = len(client.outputs)
        elapsed, _ = await bridge.run_selection(client, uri, 0, 1)
        if "2" not in bridge.output_text(client, since):
            raise RuntimeError("the run's output lacks its result")
        return elapsed * 1000

    return once


async def start_bridge(cfg: BenchConfig, stack: AsyncExitStack) -> tuple[BenchClient, str] | str:
    """The bridge's client and buffer, or why the bridge path is not measured."""
    reason = bridge.unavailable()
    if reason:
        return reason
    try:
        client, workspace = await stack.enter_async_context(bridge.bridge(cfg, "row2"))
        path: Path = workspace / "one.py"
        await asyncio.to_thread(path.write_text, CODE + "\n")
        return client, client.open(path)
    except Exception as error:
        return f"the bridge path failed to start: {error!r}"[:300]


async def run(cfg: BenchConfig) -> list[Figure]:
    async with AsyncExitStack() as stack:
        sync_client = stack.enter_context(kernels.jupyter_kernel(cfg.work_dir))
        async_client = await stack.enter_async_context(kernels.async_jupyter_kernel(cfg.work_dir))
        started = await start_bridge(cfg, stack)
        probes: dict[str, Probe] = {
            SYNC: sync_probe(sync_client),
            ASYNC: lambda: _async_ms(async_client),
        }
        if not isinstance(started, str):
            probes[BRIDGE] = bridge_probe(*started)
        summaries, failures = await interleave(
            probes, warmup=WARMUP, trials=cfg.trials, tolerant=frozenset({BRIDGE})
        )
    reason = started if isinstance(started, str) else failures.get(BRIDGE)
    context = Figure(ROW, "run `1+1`, asyncio client", "ms", baseline=summaries[ASYNC],
                     baseline_name="direct execute_request (asyncio client)",
                     goal="(context: the client an asyncio server uses)")  # fmt: skip
    baseline = summaries[SYNC]
    if reason or BRIDGE not in summaries:
        figure = skipped(ROW, "run `1+1`", "ms", reason or "no sample", goal=GOAL)
        figure.baseline, figure.baseline_name = baseline, SYNC
        return [figure, context]
    mine = summaries[BRIDGE]
    r = ratio(mine, baseline)
    return [
        Figure(ROW, "run `1+1`", "ms", mine, baseline, SYNC, r, GOAL,
               r is not None and r <= 1.5, headline=True, goal_speed=1 / 1.5),
        context,
    ]  # fmt: skip


async def _async_ms(client: object) -> float:
    return await kernels.execute_async(client, CODE) * 1000  # type: ignore[arg-type]
