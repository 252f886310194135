"""Row w2: as row w1, with the link capped at 50 Mbit/s each way; see bench/wan.py."""

from __future__ import annotations

from bench.config import BenchConfig
from bench.stats import Figure
from bench.wan import run_row


async def run(cfg: BenchConfig) -> list[Figure]:
    return await run_row(cfg, "w2", capped=True)
