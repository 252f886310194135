"""Row 1b: completion while a long cell runs, next to a plain complete_request to the busy
kernel (which waits for the cell)."""

from __future__ import annotations

import asyncio
import time

from bench import bridge, kernels
from bench.config import BenchConfig
from bench.lsp_client import field
from bench.row1_completion import BUFFER, COL, EXPECTED, LINE, PREFIX, SETUP, _check, answers_note
from bench.stats import Figure, Summary, ratio, skipped

ROW = "1b"
GOAL = "p50 ≤ 30 ms"
BASELINE_CELLS = 1


def busy_code(seconds: float) -> str:
    return f"import time; time.sleep({seconds})\n"


def direct(cfg: BenchConfig) -> Summary:
    """One sample per busy cell: the request answers only after the cell."""
    samples = []
    with kernels.jupyter_kernel(cfg.work_dir) as client:
        kernels.execute(client, SETUP)
        for _ in range(3):  # warm the completer: the figure is the wait, not jedi's first call
            kernels.complete(client, SETUP + PREFIX)
        for _ in range(BASELINE_CELLS):
            client.execute(busy_code(cfg.busy_cell_s))
            # The kernel answers after the cell's own reply (which this read skips).
            elapsed, matches = kernels.complete(client, SETUP + PREFIX)
            _check(matches)
            samples.append(elapsed * 1000)
    return Summary.of(samples)


async def through_bridge(cfg: BenchConfig) -> tuple[Summary, str, bool]:
    """The figure, a note on the answers, and whether every answer held the name."""
    samples, misses = [], []
    async with bridge.bridge(cfg, "row1b") as (client, workspace):
        path = workspace / "buffer.py"
        path.write_text(BUFFER + busy_code(cfg.busy_cell_s))
        uri = client.open(path)
        await bridge.run_selection(client, uri, 0, 3)
        for _ in range(3):  # warm, as the baseline's completer is
            await client.complete(uri, LINE, COL)
        since = len(client.outputs)
        busy = asyncio.create_task(bridge.run_selection(client, uri, 4, 5))
        try:
            await client.wait_output(lambda p: field(p, "event") == "start", 30, since=since)
            deadline = time.perf_counter() + cfg.busy_cell_s - 1.0
            while time.perf_counter() < deadline and not busy.done():
                elapsed, labels = await client.complete(uri, LINE, COL)
                if EXPECTED not in labels:
                    misses.append(1)
                samples.append(elapsed * 1000)
        finally:
            await busy
    if not samples:
        raise RuntimeError("no completion was made while the cell ran")
    return Summary.of(samples), answers_note(client, misses, len(samples)), not misses


async def run(cfg: BenchConfig) -> list[Figure]:
    name = f"completion during a {cfg.busy_cell_s:.0f} s cell"
    baseline = await asyncio.to_thread(direct, cfg)
    measured, reason = await bridge.attempt(through_bridge, cfg)
    if reason:
        figure = skipped(ROW, name, "ms", reason, goal=GOAL)
        figure.baseline, figure.baseline_name = baseline, "plain complete_request (busy)"
        return [figure]
    assert measured is not None
    mine, sources, complete = measured
    return [
        Figure(ROW, name, "ms", mine, baseline, "plain complete_request (busy)",
               ratio(mine, baseline), GOAL, complete and mine.median <= 30, headline=True,
               note=sources),
    ]  # fmt: skip
