"""Where downloaded files may land: sorted against the local files and the sync manifest,
placed only while the local file is what was sorted, the session's copy kept beside under a
free name."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from pathlib import Path

import pytest

from bai_bridge.lsp.landing import keep_both, place, sort_arrivals
from bai_bridge.lsp.sync_plan import ManifestEntry


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def staged(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    folder, root = tmp_path / "staging", tmp_path / "root"
    for rel, text in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    root.mkdir()
    return folder, root


def test_new_same_unchanged_since_sync_and_edited_files_are_told_apart(tmp_path: Path) -> None:
    names = ("new.txt", "same.txt", "synced.txt", "edited.txt", "unknown.txt")
    folder, root = staged(tmp_path, dict.fromkeys(names, "session\n"))
    (root / "same.txt").write_text("session\n")
    (root / "synced.txt").write_text("as synced\n")
    (root / "edited.txt").write_text("edited here\n")
    (root / "unknown.txt").write_text("never synced\n")
    entries = {
        "synced.txt": ManifestEntry(sha("as synced\n"), 10, 0.0),
        "edited.txt": ManifestEntry(sha("as synced\n"), 10, 0.0),
    }
    landing = sort_arrivals(folder, root, root, entries)
    assert [a.rel for a in landing.safe] == ["new.txt", "synced.txt"]
    assert [a.rel for a in landing.same] == ["same.txt"]
    assert [a.rel for a in landing.clashes] == ["edited.txt", "unknown.txt"]


def test_a_file_changed_after_sorting_is_not_replaced(tmp_path: Path) -> None:
    folder, root = staged(tmp_path, {"sub/a.txt": "session\n", "b.txt": "session\n"})
    (root / "b.txt").write_text("old\n")
    entries = {"b.txt": ManifestEntry(sha("old\n"), 4, 0.0)}
    edited, new = sort_arrivals(folder, root, root, entries).safe
    (root / "b.txt").write_text("typed meanwhile\n")
    assert place(edited) is False
    assert (root / "b.txt").read_text() == "typed meanwhile\n"
    assert place(new) is True  # its folder is made
    assert (root / "sub" / "a.txt").read_text() == "session\n"


def test_the_sessions_copy_goes_beside_under_a_free_name(tmp_path: Path) -> None:
    folder, root = staged(tmp_path, {"notes.txt": "session\n"})
    (root / "notes.txt").write_text("mine\n")
    (root / "notes (session copy).txt").write_text("an older copy\n")
    (clash,) = sort_arrivals(folder, root, root, {}).clashes
    assert keep_both(clash, root) == "notes (session copy 2).txt"
    assert (root / "notes (session copy 2).txt").read_text() == "session\n"
    assert (root / "notes (session copy).txt").read_text() == "an older copy\n"
    assert (root / "notes.txt").read_text() == "mine\n"


def test_a_file_staged_on_another_file_system_still_lands_whole(tmp_path: Path) -> None:
    """The staging folder is in the temp folder, often a tmpfs apart from the workspace: a
    rename cannot cross, so a copy beside the target is renamed instead."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs a second file system at /dev/shm")
    folder = Path(tempfile.mkdtemp(dir=shm))
    try:
        (folder / "run.sh").write_text("echo hi\n")
        (folder / "run.sh").chmod(0o755)
        root = tmp_path / "root"
        root.mkdir()
        (arrival,) = sort_arrivals(folder, root, root, {}).safe
        assert place(arrival) is True
        landed = root / "run.sh"
        assert landed.read_text() == "echo hi\n"
        assert landed.stat().st_mode & 0o777 == 0o755
        assert [p.name for p in root.iterdir()] == ["run.sh"]  # no copy left behind
    finally:
        shutil.rmtree(folder)
