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
    wan_trials: int = 20  # rows w*: latency trials per action
    wan_fresh_trials: int = 3  # rows w*: fresh language servers (session start, first sync)
    wan_files: int = 500  # rows w*: the first sync's small files
    wan_big_mib: int = 5  # rows w*: and its one large file
    wan_idle_s: float = 60.0  # rows w*: idle time before the "after idle" request
    wan_bulk_bytes: int = 5_000_000  # rows w*: bytes through the terminal (base64: 4/3 of it)
    wan_one_way_s: float = 0.025  # rows w*: the emulated delay each way (RTT: twice)
    wan_cap_mbit: float = 50.0  # row w2: the link's bandwidth, each way
    server_profile: str | None = None  # rows w*: `local-server --profile`; None: not passed

    @classmethod
    def for_mode(cls, *, quick: bool, work_dir: Path) -> BenchConfig:
        if quick:
            return cls(
                quick=True, work_dir=work_dir, trials=8, printed_lines=20_000, output_trials=1,
                small_files=100, big_file_mib=2, busy_cell_s=3.0, bulk_bytes=2_000_000,
                extra_sessions=1, load_sessions=2, load_lsp_clients=1, load_seconds=3.0,
                wan_trials=3, wan_fresh_trials=1, wan_files=100, wan_big_mib=1, wan_idle_s=2.0,
                wan_bulk_bytes=200_000,
            )  # fmt: skip
        return cls(
            quick=False, work_dir=work_dir, trials=60, printed_lines=200_000, output_trials=3,
            small_files=2_000, big_file_mib=20, busy_cell_s=10.0, bulk_bytes=20_000_000,
            extra_sessions=3, load_sessions=20, load_lsp_clients=4, load_seconds=20.0,
        )  # fmt: skip
