"""Sizes and trial counts of a run: the full run of the issue, or a quick smoke run."""

from __future__ import annotations

from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PEER_PYTHON = REPO / ".venv-peer" / "bin" / "python"


@attrs.frozen
class BenchConfig:
    quick: bool
    work_dir: Path  # scratch space of this run, removed by the runner
    trials: int  # latency trials per figure
    printed_lines: int  # row 3
    output_trials: int  # row 3 repeats
    small_files: int  # row 4
    big_file_mib: int  # row 4
    busy_cell_s: float  # row 1b
    bulk_bytes: int  # row 5
    extra_sessions: int  # row 6
    load_sessions: int  # row 7
    load_lsp_clients: int  # row 7: sessions driven through their own language server
    load_seconds: float  # row 7

    @classmethod
    def for_mode(cls, *, quick: bool, work_dir: Path) -> BenchConfig:
        if quick:
            return cls(
                quick=True, work_dir=work_dir, trials=8, printed_lines=20_000, output_trials=1,
                small_files=100, big_file_mib=2, busy_cell_s=3.0, bulk_bytes=2_000_000,
                extra_sessions=1, load_sessions=2, load_lsp_clients=1, load_seconds=3.0,
            )  # fmt: skip
        return cls(
            quick=False, work_dir=work_dir, trials=60, printed_lines=200_000, output_trials=3,
            small_files=2_000, big_file_mib=20, busy_cell_s=10.0, bulk_bytes=20_000_000,
            extra_sessions=3, load_sessions=20, load_lsp_clients=4, load_seconds=20.0,
        )  # fmt: skip
