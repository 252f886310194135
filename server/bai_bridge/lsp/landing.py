"""Downloads land without losing local work (mutagen's two-way-safe rule).

The session's files arrive in a staging folder first. Each then replaces its local file only
when that file is missing, already holds the same content, or is still what sync last saw
(its content hash is the manifest's): anything else is a local edit, and the person decides.
Right before a file is replaced its content is checked again, and every write is a rename,
so a reader never sees half a file. Blocking throughout: call it in a worker thread.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import attrs

from bai_bridge.scratch import make_scratch_dir

from .sync_plan import ManifestEntry, file_digest

__all__ = [
    "Arrival",
    "Landing",
    "LocalChanged",
    "discard",
    "keep_both",
    "place",
    "sort_arrivals",
    "staging",
]

COPY_MARK = "session copy"  # "notes (session copy).txt": the session's version, kept beside


class LocalChanged(Exception):
    """A local file changed after the person decided about it: it was not overwritten."""


@attrs.frozen
class Arrival:
    """One downloaded file: where it waits, where it goes, and what was there when sorted."""

    staged: Path
    target: Path
    rel: str  # the target's workspace-relative posix path
    local_sha: str | None  # the local file's content hash; None: there was none


@attrs.define
class Landing:
    staging: Path
    safe: list[Arrival] = attrs.Factory(list)  # no local file, or one sync last saw unchanged
    same: list[Arrival] = attrs.Factory(list)  # the local file already holds this content
    clashes: list[Arrival] = attrs.Factory(list)  # local edits: the person decides


def staging() -> Path:
    """A fresh staging folder, outside the workspace: sync never sees half a download (a
    language server killed mid-download leaves it to the next start's sweep)."""
    return make_scratch_dir("download")


def discard(folder: Path) -> None:
    """The staging folder and what was left in it (declined or refused files)."""
    shutil.rmtree(folder, ignore_errors=True)


def sort_arrivals(
    folder: Path, dest: Path, root: Path, entries: Mapping[str, ManifestEntry]
) -> Landing:
    """Sort the files staged in ``folder`` (bound for ``dest``, inside ``root``) against the
    local files they would replace and the sync manifest's ``entries``."""
    landing = Landing(folder)
    for staged in _files_under(folder):
        target = dest / staged.relative_to(folder)
        rel = target.relative_to(root).as_posix()
        local = _digest(target)
        arrival = Arrival(staged, target, rel, local)
        if local is None:
            landing.safe.append(arrival)
        elif local == file_digest(staged)[1]:
            landing.same.append(arrival)
        elif (entry := entries.get(rel)) is not None and entry.sha256 == local:
            landing.safe.append(arrival)  # unchanged here since sync: the session's is newer
        else:
            landing.clashes.append(arrival)
    return landing


def place(arrival: Arrival) -> bool:
    """Replace the local file, if it is still what was sorted; False (nothing written) if it
    changed since."""
    if _digest(arrival.target) != arrival.local_sha:
        return False
    arrival.target.parent.mkdir(parents=True, exist_ok=True)
    _move(arrival.staged, arrival.target)
    return True


def keep_both(arrival: Arrival, root: Path) -> str:
    """Put the session's copy beside the local file under a free name; its workspace path."""
    target = arrival.target
    for number in range(1, 1000):
        mark = COPY_MARK if number == 1 else f"{COPY_MARK} {number}"
        beside = target.with_name(f"{target.stem} ({mark}){target.suffix}")
        try:
            beside.open("xb").close()  # the name is ours: nothing else is overwritten
        except FileExistsError:
            continue
        _move(arrival.staged, beside)
        return beside.relative_to(root).as_posix()
    raise FileExistsError(f"no free name for the session's copy of {arrival.rel}")


def _files_under(folder: Path) -> list[Path]:
    return sorted(
        Path(dirpath, name) for dirpath, _dirs, names in os.walk(folder) for name in names
    )


def _digest(path: Path) -> str | None:
    try:
        return file_digest(path)[1]
    except FileNotFoundError:
        return None


def _move(staged: Path, target: Path) -> None:
    """Rename into place; across file systems, a copy beside the target is renamed instead."""
    try:
        os.replace(staged, target)
        return
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        shutil.copy2(staged, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
