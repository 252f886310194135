"""Row 3: a run printing many lines, until the last output reaches the LSP client, next to
the same code through a direct Jupyter client; and the language server's RSS growth."""

from __future__ import annotations

import asyncio

from bench import bridge, kernels
from bench.config import BenchConfig
from bench.procs import PeakRss, rss_mib
from bench.stats import Figure, Summary, ratio, skipped

ROW = "3"
GOAL = "ratio ≤ 1.2"
GOAL_RSS = "≤ 50 MB growth"


def code(lines: int) -> str:
    return f"for i in range({lines}): print(i)\n"


def _check(text: str, lines: int) -> None:
    if text.count("\n") < lines or f"\n{lines - 1}\n" not in text:
        raise RuntimeError(f"only {text.count(chr(10))} of {lines} lines arrived")


def direct(cfg: BenchConfig) -> Summary:
    samples = []
    with kernels.jupyter_kernel(cfg.work_dir) as client:
        kernels.execute(client, "1")
        for _ in range(cfg.output_trials):
            elapsed, texts = kernels.execute(client, code(cfg.printed_lines))
            _check("".join(texts), cfg.printed_lines)
            samples.append(elapsed)
    return Summary.of(samples)


async def through_bridge(cfg: BenchConfig) -> tuple[Summary, Summary]:
    samples, growth = [], []
    async with bridge.bridge(cfg, "row3") as (client, workspace):
        path = workspace / "many.py"
        path.write_text(code(cfg.printed_lines))
        uri = client.open(path)
        one = workspace / "one.py"
        one.write_text("1\n")
        await bridge.run_selection(client, client.open(one), 0, 1)  # session warm
        for _ in range(cfg.output_trials):
            since = len(client.outputs)
            before = rss_mib(client.pid)
            with PeakRss(client.pid) as peak:
                elapsed, _ = await bridge.run_selection(client, uri, 0, 1)
            _check(bridge.output_text(client, since), cfg.printed_lines)
            samples.append(elapsed)
            growth.append(peak.peak - before)
            del client.outputs[since:]  # keep the client's own memory flat between trials
    return Summary.of(samples), Summary.of(growth)


async def run(cfg: BenchConfig) -> list[Figure]:
    name = f"print {cfg.printed_lines:,} lines"
    baseline = await asyncio.to_thread(direct, cfg)
    measured, reason = await bridge.attempt(through_bridge, cfg)
    if reason:
        figure = skipped(ROW, name, "s", reason, goal=GOAL)
        figure.baseline, figure.baseline_name = baseline, "direct Jupyter client"
        return [figure]
    assert measured is not None
    mine, growth = measured
    r = ratio(mine, baseline)
    return [
        Figure(ROW, name, "s", mine, baseline, "direct Jupyter client", r, GOAL,
               r is not None and r <= 1.2, headline=True, goal_speed=1 / 1.2),
        Figure(ROW, "language server RSS growth", "MiB", growth, goal=GOAL_RSS,
               met=growth.p95 <= 50),
    ]  # fmt: skip
