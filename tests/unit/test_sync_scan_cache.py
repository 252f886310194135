"""The scan cache: a repeated scan sees exactly what a fresh one sees.

Folders are aged past the racy window with os.utime so the cache is really used; each change
then made to the tree must show in the next scan just as in a scan without the cache.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from bai_bridge.lsp.sync_scan import RACY_NS, ScanCache, scan_workspace

EXCLUDES = (".git/", "*.pyc")
OLD_NS = time.time_ns() - 10 * RACY_NS


def age(root: Path) -> None:
    """Every folder and .gitignore last changed long ago (as in a settled workspace)."""
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            if name == ".gitignore":
                os.utime(Path(dirpath, name), ns=(OLD_NS, OLD_NS))
        os.utime(dirpath, ns=(OLD_NS, OLD_NS))


def tree(root: Path) -> None:
    for i in range(3):
        (root / f"pkg{i}").mkdir(parents=True)
        for j in range(4):
            (root / f"pkg{i}" / f"mod{j}.py").write_text(f"x = {i}{j}\n")
    (root / "pkg1" / "mod.pyc").write_bytes(b"\0")
    (root / "pkg2" / ".gitignore").write_text("*.log\n")
    (root / "pkg2" / "run.log").write_text("noise")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "link").symlink_to(root / "pkg0")
    age(root)


def both(root: Path, cache: ScanCache) -> list[tuple[str, int, str]]:
    """The cached scan's files, checked against a scan without the cache."""
    cached, _, _ = scan_workspace(root, EXCLUDES, 1 << 20, cache)
    fresh, _, _ = scan_workspace(root, EXCLUDES, 1 << 20)
    assert cached == fresh
    return [(f.path, f.size, f.sha256) for f in cached]


def test_unchanged_settled_folders_are_not_listed_again(tmp_path: Path) -> None:
    tree(tmp_path)
    cache = ScanCache()
    first = both(tmp_path, cache)
    assert [p for p, _, _ in first] == [
        *(f"pkg0/mod{j}.py" for j in range(4)),
        *(f"pkg1/mod{j}.py" for j in range(4)),
        "pkg2/.gitignore",
        *(f"pkg2/mod{j}.py" for j in range(4)),
    ]
    assert set(cache.folders) == {"", "pkg0", "pkg1", "pkg2"}
    assert both(tmp_path, cache) == first


def test_added_removed_and_edited_files_show(tmp_path: Path) -> None:
    tree(tmp_path)
    cache = ScanCache()
    both(tmp_path, cache)
    (tmp_path / "pkg0" / "new.py").write_text("new\n")
    (tmp_path / "pkg1" / "mod0.py").unlink()
    (tmp_path / "pkg2" / "mod1.py").write_text("edited, and longer\n")
    (tmp_path / "pkg3").mkdir()
    (tmp_path / "pkg3" / "deep.py").write_text("deep\n")
    paths = {p: size for p, size, _ in both(tmp_path, cache)}
    assert "pkg0/new.py" in paths
    assert "pkg1/mod0.py" not in paths
    assert paths["pkg2/mod1.py"] == len("edited, and longer\n")
    assert "pkg3/deep.py" in paths


def test_a_folder_changed_within_the_racy_window_is_listed_again(tmp_path: Path) -> None:
    """A change that leaves the folder's mtime as it was (coarse timestamps) still shows,
    because a recently changed folder is never taken from the cache."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("a")
    cache = ScanCache()
    both(tmp_path, cache)
    assert "pkg" not in cache.folders  # changed just now: not trusted
    stamp = os.stat(tmp_path / "pkg").st_mtime_ns
    (tmp_path / "pkg" / "b.py").write_text("b")
    os.utime(tmp_path / "pkg", ns=(stamp, stamp))  # the same mtime as when it was scanned
    assert [p for p, _, _ in both(tmp_path, cache)] == ["pkg/a.py", "pkg/b.py"]


def test_an_edited_gitignore_applies_at_once(tmp_path: Path) -> None:
    tree(tmp_path)
    cache = ScanCache()
    both(tmp_path, cache)
    (tmp_path / "pkg2" / ".gitignore").write_text("*.log\nmod0.py\n")
    os.utime(tmp_path / "pkg2", ns=(OLD_NS, OLD_NS))  # only the file changed
    paths = [p for p, _, _ in both(tmp_path, cache)]
    assert "pkg2/mod0.py" not in paths
    assert "pkg2/mod1.py" in paths
    (tmp_path / ".gitignore").write_text("pkg1/\n")  # a new rule above cached folders
    assert not any(p.startswith("pkg1/") for p, _, _ in both(tmp_path, cache))


def test_other_excludes_start_over(tmp_path: Path) -> None:
    tree(tmp_path)
    cache = ScanCache()
    both(tmp_path, cache)
    files, _, _ = scan_workspace(tmp_path, (".git/", "*.pyc", "pkg0/"), 1 << 20, cache)
    assert not any(f.path.startswith("pkg0/") for f in files)
    assert cache.excludes == (".git/", "*.pyc", "pkg0/")


def test_large_files_are_read_first_and_an_edited_file_as_soon_as_it_is_seen(
    tmp_path: Path,
) -> None:
    tree(tmp_path)
    (tmp_path / "zz").mkdir()
    (tmp_path / "zz" / "big.bin").write_bytes(b"b" * 5000)  # walked last
    events: list[str] = []

    def scan(cache: ScanCache) -> list[str]:
        events.clear()
        scan_workspace(
            tmp_path, EXCLUDES, 1 << 20, cache,
            on_large=(4096, lambda f: events.append(f"large {f.path}")),
            on_hashed=lambda f: events.append(f"hashed {f.path}"),
        )  # fmt: skip
        return events

    cache = ScanCache()
    first = scan(cache)
    assert first[:2] == ["hashed zz/big.bin", "large zz/big.bin"]  # before any small file
    assert "hashed pkg0/mod0.py" in first[2:]
    assert not [e for e in first[2:] if "big.bin" in e]

    (tmp_path / "pkg2" / "mod3.py").write_text("x = 'edited'\n")
    os.utime(tmp_path / "zz" / "big.bin", ns=(OLD_NS, OLD_NS))  # its cached stat changes too
    age(tmp_path)
    # Both edits are read before any large file is: an edit's proof can be on its way.
    assert scan(cache) == ["hashed pkg2/mod3.py", "hashed zz/big.bin", "large zz/big.bin"]
