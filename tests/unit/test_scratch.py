"""Scratch folders left by processes that were killed are removed by the next start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bai_bridge.scratch import make_scratch_dir, sweep_stale


def ended_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_only_folders_of_ended_processes_are_swept(tmp_path: Path) -> None:
    dead, mine = ended_pid(), os.getpid()
    stale = tmp_path / f"bai-bridge-embedded-{dead}-abc"
    (stale / "sessions").mkdir(parents=True)
    (stale / "sessions" / "file.txt").write_text("left behind")
    live = tmp_path / f"bai-bridge-embedded-{mine}-def"
    live.mkdir()
    other_kind = tmp_path / f"bai-bridge-kernel-{dead}-ghi"
    other_kind.mkdir()
    unrelated = tmp_path / "bai-bridge-embedded-notapid"
    unrelated.mkdir()
    assert sweep_stale("embedded", tmp_path) == [stale]
    assert not stale.exists()
    assert [p.exists() for p in (live, other_kind, unrelated)] == [True, True, True]


def test_a_scratch_folder_is_private_and_named_after_its_process(tmp_path: Path) -> None:
    directory = make_scratch_dir("kernel", tmp_path)
    assert directory.parent == tmp_path
    assert directory.name.startswith(f"bai-bridge-kernel-{os.getpid()}-")
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    assert sweep_stale("kernel", tmp_path) == []  # its process is this one: kept
    assert directory.exists()
