"""The benchmark suite's quick mode runs end to end and writes a sane report.

Asserts that the files exist with the expected rows and plausible numbers, never that a
timing goal is met (goals belong to the benchmark, not to tests).
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bench import bridge
from bench.config import REPO
from bench.run import ROWS

QUICK_TIMEOUT = 900  # seconds; a quick run takes about four minutes on 2 idle cores
ROWS_WITH_BASELINES = {"1", "1b", "2", "3", "4", "5", "w1", "w2", "m"}
WAN_ROWS = {"w1", "w2"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench-results")
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "bench"), "--quick", "--out", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=QUICK_TIMEOUT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out, json.loads((out / "results.json").read_text())


def _summaries(figure: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in (figure["bridge"], figure["baseline"]) if s is not None]


def test_every_row_reports_and_none_failed(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    figures = results["figures"]
    assert {f["row"] for f in figures} == set(ROWS)
    failed = [f for f in figures if f["name"] == "(row failed)"]
    assert not failed, failed
    assert results["meta"]["mode"] == "quick"


def test_numbers_are_sane(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    for figure in results["figures"]:
        for summary in _summaries(figure):
            assert summary["n"] >= 1, figure
            assert math.isfinite(summary["median"]), figure
            assert math.isfinite(summary["p95"]), figure
            assert summary["p95"] >= summary["median"], figure
            if figure["unit"] in ("ms", "s", "MB/s"):
                assert summary["median"] > 0, figure
        if figure["ratio"] is not None:
            assert figure["ratio"] > 0, figure
            assert figure["bridge"] is not None, figure
            assert figure["baseline"] is not None, figure


def test_baselines_measured_and_bridge_rows_when_it_is_there(
    quick_run: tuple[Path, dict[str, Any]],
) -> None:
    _, results = quick_run
    by_row: dict[str, list[dict[str, Any]]] = {}
    for figure in results["figures"]:
        by_row.setdefault(figure["row"], []).append(figure)
    for row in ROWS_WITH_BASELINES:
        assert any(f["baseline"] for f in by_row[row]), by_row[row]
    if bridge.unavailable() is None:
        for row, figures in by_row.items():
            assert any(f["bridge"] for f in figures), (row, figures)
            assert any(f["met"] is not None for f in figures), (row, figures)


def test_report_and_chart_written(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    report = (out / "report.md").read_text()
    lines = report.splitlines()
    first = lines.index(
        "| row | figure | bridge | baseline | baseline figure | ratio | goal | result |"
    )
    rows = itertools.takewhile(lambda line: line.startswith("| "), lines[first + 2 :])
    table = [lines[first], *rows]  # the header, then the rows after its |---| line
    assert len(table) == 1 + len(results["figures"])  # the header plus one line per figure
    for row in ROWS:
        assert f"\n| {row} | " in report
    assert (out / "ratios.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_wan_rows_count_round_trips_and_requests(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    if bridge.unavailable() is not None:
        pytest.skip("the bridge path is not in the tree")
    rtt_ms = 2 * results["meta"]["config"]["wan_one_way_s"] * 1000
    wan = [f for f in results["figures"] if f["row"] in WAN_ROWS]
    assert {f["row"] for f in wan} == WAN_ROWS
    for figure in wan:
        assert figure["bridge"], figure  # every action measured on both paths
        assert figure["baseline"], figure
        assert figure["round_trips"] is not None, figure
        assert figure["round_trips"] > 0, figure
        assert "req, " in figure["traffic"], figure
        assert " new conn" in figure["traffic"], figure
        if figure["name"].startswith("Run "):  # a run needs the session: at least one RTT
            assert figure["bridge"]["median"] >= rtt_ms, figure
            assert figure["traffic"] != "0 req, 0 new conn", figure
    report = (out / "report.md").read_text()
    section = report.split("## Round trips over the emulated WAN", 1)[1]
    for figure in wan:
        assert f"| {figure['row']} | {figure['name']} | " in section
