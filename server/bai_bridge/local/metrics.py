"""Last-moment metrics of a kernel process, in the manager's stats shape (protocol doc §3.2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _metric(current: int | float, unit: str) -> dict[str, Any]:
    return {"current": str(current), "capacity": None, "pct": None, "unit_hint": unit}


# A kernel's process tree is the kernel and what it started; past this many, the rest is not
# counted (keeps a fork bomb from making every get_info walk thousands of /proc entries).
MAX_TREE = 256


def process_stats(pid: int | None) -> dict[str, Any]:
    """CPU time (msec) and resident memory (bytes) of a process and its descendants, as an
    agent reports a container's; {} when unavailable (no /proc: not Linux, or it is gone).
    """
    if pid is None:
        return {}
    cpu_ticks = rss_pages = 0
    tree = _process_tree(pid)
    for member in tree:
        try:
            stat = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
            statm = Path(f"/proc/{member}/statm").read_text().split()
            cpu_ticks += int(stat[11]) + int(stat[12])  # utime + stime
            rss_pages += int(statm[1])
        except (OSError, IndexError, ValueError):
            if member == pid:
                return {}
            continue  # a child that ended while we looked
    return {
        "cpu_used": _metric(cpu_ticks * 1000 // _TICKS, "msec"),
        "mem": _metric(rss_pages * _PAGE, "bytes"),
        "version": 2,
    }


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants, from each thread's ``children`` list (Linux 3.5+)."""
    tree, pending = [pid], [pid]
    while pending and len(tree) < MAX_TREE:
        parent = pending.pop()
        try:
            threads = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for thread in threads:
            try:
                found = [int(c) for c in (thread / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            fresh = [c for c in found if c not in tree][: MAX_TREE - len(tree)]
            tree.extend(fresh)
            pending.extend(fresh)
    return tree
