"""Last-moment metrics of a kernel process, in the manager's stats shape (protocol doc §3.2)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _metric(current: int | float, unit: str) -> dict[str, Any]:
    return {"current": str(current), "capacity": None, "pct": None, "unit_hint": unit}


def process_stats(pid: int | None) -> dict[str, Any]:
    """CPU time (msec) and resident memory (bytes) of a process; {} when unavailable."""
    if pid is None:
        return {}
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        statm = Path(f"/proc/{pid}/statm").read_text().split()
    except (OSError, IndexError):
        return {}
    cpu_ms = (int(stat[11]) + int(stat[12])) * 1000 // _TICKS  # utime + stime
    return {
        "cpu_used": _metric(cpu_ms, "msec"),
        "mem": _metric(int(statm[1]) * _PAGE, "bytes"),
        "version": 2,
    }
