"""Trials taken in turns: one of each probe per round, so a load change on this shared
machine falls on the bridge and its baselines alike."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bench.stats import Summary

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[float]]  # one trial; returns its figure (e.g. milliseconds)


async def interleave(
    probes: dict[str, Probe], *, warmup: int, trials: int, tolerant: frozenset[str] = frozenset()
) -> tuple[dict[str, Summary], dict[str, str]]:
    """Summaries per probe, and why a ``tolerant`` probe stopped (others raise)."""
    samples: dict[str, list[float]] = {name: [] for name in probes}
    failures: dict[str, str] = {}
    for round_ in range(warmup + trials):
        for name, probe in probes.items():
            if name in failures:
                continue
            try:
                value = await probe()
            except Exception as error:
                if name not in tolerant:
                    raise
                log.exception("probe %s failed", name)
                failures[name] = f"the bridge path failed: {error!r}"[:300]
                continue
            if round_ >= warmup:
                samples[name].append(value)
    return {name: Summary.of(s) for name, s in samples.items() if s}, failures
