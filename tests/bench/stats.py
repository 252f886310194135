"""Summaries of repeated trials and the figures a benchmark row reports."""

from __future__ import annotations

import statistics
from typing import Any, Literal

import attrs

Direction = Literal["lower", "higher"]  # which way is better for the figure's unit


@attrs.frozen
class Summary:
    """Median and p95 of one measured quantity (p95 by nearest rank)."""

    median: float
    p95: float
    n: int

    @classmethod
    def of(cls, samples: list[float]) -> Summary:
        if not samples:
            raise ValueError("no samples to summarise")
        ordered = sorted(samples)
        rank = max(0, min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1))
        return cls(median=statistics.median(ordered), p95=ordered[rank], n=len(ordered))


@attrs.define
class Figure:
    """One line of the report: a bridge figure next to its same-run baseline.

    ``ratio`` is bridge/baseline for time-like units and baseline/bridge never: it is always
    the plain quotient of medians, and ``goal`` says in words which side it must be on.
    ``met`` is None where no goal applies or the figure could not be measured.
    """

    row: str
    name: str
    unit: str
    bridge: Summary | None = None
    baseline: Summary | None = None
    baseline_name: str = ""
    ratio: float | None = None
    goal: str = ""
    met: bool | None = None
    headline: bool = False  # drawn in the chart
    note: str = ""
    goal_speed: float | None = None  # the goal as "times as fast as the baseline", for the chart
    round_trips: float | None = None  # rows w*: the bridge's median in emulated round trips
    traffic: str = ""  # rows w*: HTTP requests and new connections an action took

    @property
    def speed(self) -> float | None:
        """How many times as fast as its baseline the bridge is (> 1: faster)."""
        if not self.ratio:
            return None
        return self.ratio if self.unit == "MB/s" else 1 / self.ratio

    def as_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


def ratio(bridge: Summary | None, baseline: Summary | None) -> float | None:
    if bridge is None or baseline is None or baseline.median == 0:
        return None
    return bridge.median / baseline.median


def skipped(row: str, name: str, unit: str, reason: str, *, goal: str = "") -> Figure:
    """A figure that could not be measured in this run, with the reason shown in the report."""
    return Figure(row=row, name=name, unit=unit, goal=goal, note=f"not measured: {reason}")
