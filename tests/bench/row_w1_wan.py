"""Row w1: each action over an emulated WAN (25 ms each way, no bandwidth cap) beside the same
action through the same proxy with no delay, in round trips; see bench/wan.py."""

from __future__ import annotations

from bench.config import BenchConfig
from bench.stats import Figure
from bench.wan import run_row


async def run(cfg: BenchConfig) -> list[Figure]:
    return await run_row(cfg, "w1", capped=False)
