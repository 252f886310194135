"""The benchmark runner: `python -m bench.run [--quick] [--rows 1,2] [--out DIR]`.

Runs each row in turn (a fresh event loop per row, so one row's leftovers cannot skew the
next), keeps going when a row fails, and writes bench-results/{results.json, report.md,
ratios.png}.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import attrs

from bench import report
from bench.config import REPO, BenchConfig
from bench.stats import Figure

log = logging.getLogger("bench")

ROWS = {
    "1": "bench.row1_completion",
    "1b": "bench.row1b_busy_completion",
    "2": "bench.row2_run",
    "3": "bench.row3_bulk_output",
    "4": "bench.row4_sync",
    "5": "bench.row5_terminal",
    "6": "bench.row6_footprint",
    "7": "bench.row7_load",
    "w1": "bench.row_w1_wan",
    "w2": "bench.row_w2_wan_capped",
    "m": "bench.row_m_mirror",
    "s1": "bench.row_s1_session_packages",
}


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few trials, small sizes")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated row ids")
    parser.add_argument("--out", type=Path, default=REPO / "bench-results")
    parser.add_argument("--keep-work", action="store_true", help="keep the scratch directory")
    parser.add_argument(
        "--server-profile", help="rows w*: start `bai-bridge local-server --profile PROFILE`"
    )
    parser.add_argument(
        "--wan-idle", type=float, metavar="SECONDS",
        help="rows w*: idle time before the first request (default 60, --quick 2)",
    )  # fmt: skip
    return parser.parse_args(argv)


def run_row(row: str, cfg: BenchConfig) -> list[Figure]:
    started = time.perf_counter()
    log.info("row %s: start", row)
    try:
        module = importlib.import_module(ROWS[row])
        figures: list[Figure] = asyncio.run(module.run(cfg))
    except Exception as error:  # one broken row must not lose the others' numbers
        log.error("row %s failed:\n%s", row, traceback.format_exc())
        figures = [Figure(row, "(row failed)", "", note=f"error: {error!r}"[:300])]
    log.info("row %s: done in %.1f s", row, time.perf_counter() - started)
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    logging.getLogger("pygls").setLevel(logging.WARNING)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        print(f"unknown rows {unknown}; known: {list(ROWS)}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="bai-bridge-bench-"))
    cfg = BenchConfig.for_mode(quick=args.quick, work_dir=work)
    cfg = attrs.evolve(cfg, server_profile=args.server_profile)
    if args.wan_idle is not None:
        cfg = attrs.evolve(cfg, wan_idle_s=args.wan_idle)
    started = time.perf_counter()
    meta = {
        "started": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "cpus": os.cpu_count(),
        "rows": rows,
        "config": attrs.asdict(cfg, filter=lambda a, _: a.name != "work_dir"),
    }
    figures: list[Figure] = []
    try:
        for row in rows:
            figures += run_row(row, cfg)
            meta["duration_s"] = time.perf_counter() - started
            report.write_all(args.out, figures, meta)  # after each row: partial runs count
    finally:
        if args.keep_work:
            log.info("scratch kept in %s", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    log.info("wrote %s", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
