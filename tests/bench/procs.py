"""Resident memory of processes, read from /proc (Linux)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    """Resident set size of one process in MiB (0 if it has gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return 0.0


def children(pid: int) -> list[int]:
    """Every descendant of ``pid``."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except (FileNotFoundError, ProcessLookupError):
                continue
            found += kids
            todo += kids
    return found


def tree_rss_mib(pid: int) -> float:
    return rss_mib(pid) + sum(rss_mib(child) for child in children(pid))


class PeakRss:
    """Samples a process's RSS on a thread until stopped; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = rss_mib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_mib(self.pid))


async def settled_rss_mib(
    pid: int,
    *,
    window: int = 8,
    interval: float = 0.25,
    tolerance: float = 1.0,
    limit: float = 30.0,
) -> float:
    """RSS once it has stopped moving (``window`` samples within ``tolerance`` MiB): an idle
    server may still be warming caches in the background right after start-up."""
    deadline = time.perf_counter() + limit
    recent: list[float] = []
    while True:
        recent = [*recent[-(window - 1) :], rss_mib(pid)]
        steady = len(recent) == window and max(recent) - min(recent) <= tolerance
        if steady or time.perf_counter() > deadline:
            return recent[-1]
        await asyncio.sleep(interval)
