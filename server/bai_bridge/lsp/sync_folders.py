"""The workspace folders' syncs: each folder has its own `SyncService` (its own manifest,
excludes and `.gitignore`s) syncing it to its own place in the session.

Places: the first folder syncs to the work dir itself, exactly as a one-folder workspace
does; every other folder to a sub-directory of the work dir named after it. Nothing moves
when a folder is added or removed later: the first folder's files stay where code and earlier
sessions expect them, and a folder added at runtime takes a name no file or folder at the top
of the first folder has, so the two syncs never share a session path. Names are made unique
in folder order ("src", "src-2"). A workspace folder inside another one is synced as part of
it, not a second time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs
from pygls.uris import to_fs_path

from .sync_service import SyncService

__all__ = [
    "WORK_DIR",
    "SyncFolder",
    "SyncFolders",
    "outermost",
    "place_for",
    "remote_path",
    "session_path",
]

WORK_DIR = ""  # the first folder's place: the session's work dir itself
WORK_DIR_PATH = "/home/work"  # how a person knows the work dir (the embedded server's differs)
RESERVED = frozenset({".bai-bridge"})  # the first folder's manifest lives there


@attrs.frozen
class SyncFolder:
    root: Path  # resolved
    place: str  # its folder in the session, relative to the work dir ("": the work dir)
    service: SyncService
    worker: asyncio.Task[None] = attrs.field(eq=False)  # its saves' sender

    def relative(self, path: Path) -> str | None:
        """``path``'s posix path inside this folder (resolved), else None."""
        try:
            rel = path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return None
        return None if rel == "." else rel

    def remote(self, rel: str) -> str:
        """A folder-relative path as the session sees it (relative to its work dir)."""
        return remote_path(self.place, rel)


def remote_path(place: str, rel: str) -> str:
    return f"{place}/{rel}" if place else rel


def session_path(place: str) -> str:
    """A folder's place as a person knows it: /home/work/<place>."""
    return f"{WORK_DIR_PATH}/{place}".rstrip("/")


def outermost(roots: list[Path]) -> list[Path]:
    """``roots`` (resolved) in their order, without repeats and without the ones inside
    another of them."""
    unique = list(dict.fromkeys(roots))
    return [r for r in unique if not any(r != o and r.is_relative_to(o) for o in unique)]


def place_for(root: Path, taken: Iterable[str], first: Path | None) -> str:
    """The place of a folder that is not the first: its name, unique among the places
    ``taken`` and the entries at the top of the ``first`` folder (blocking: lists it)."""
    used = {*taken, *RESERVED}
    if first is not None and first.is_dir():
        used.update(entry.name for entry in first.iterdir())
    name = root.name or "folder"
    place, n = name, 1
    while place in used:
        n += 1
        place = f"{name}-{n}"
    return place


class SyncFolders:
    """Folder -> its sync; a file belongs to the deepest folder that contains it."""

    def __init__(self) -> None:
        self._by_root: dict[Path, SyncFolder] = {}
        self.watched = False  # the client watches them (watch.py)
        # folders whose workspace sync a drop cut short: synced again once the server is back
        self.cut_short: list[SyncFolder] = []

    def __iter__(self) -> Iterator[SyncFolder]:
        return iter(list(self._by_root.values()))

    def __len__(self) -> int:
        return len(self._by_root)

    @property
    def first(self) -> SyncFolder | None:
        """The folder synced to the work dir, if it is still in the workspace."""
        return next((f for f in self if f.place == WORK_DIR), None)

    @property
    def home(self) -> SyncFolder | None:
        """Where relative local paths start (downloads): the first folder, else the
        earliest one left."""
        return self.first or next(iter(self), None)

    def places(self) -> list[str]:
        return [f.place for f in self]

    def add(self, folder: SyncFolder) -> None:
        self._by_root[folder.root] = folder

    def remove(self, root: Path) -> SyncFolder | None:
        return self._by_root.pop(root.resolve(), None)

    def holds(self, root: Path) -> bool:
        return root.resolve() in self._by_root

    def find(self, path: Path) -> tuple[SyncFolder, str] | None:
        """The folder of ``path`` (the deepest one containing it) and the path inside it."""
        found = [(f, rel) for f in self if (rel := f.relative(path)) is not None]
        return max(found, key=lambda pair: len(pair[0].root.parts), default=None)

    def of_session_path(self, path: str) -> tuple[SyncFolder, str] | None:
        """The folder a session path (relative to the work dir) belongs to, and the path
        inside that folder: the folder of the longest place it is in."""
        found = [
            (f, path[len(f.place) + 1 :] if f.place else path)
            for f in self
            if not f.place or path.startswith(f.place + "/")
        ]
        return max(found, key=lambda pair: len(pair[0].place), default=None)

    def of_uri(self, uri: str) -> tuple[SyncFolder, str] | None:
        path = to_fs_path(uri)
        return self.find(Path(path)) if path else None
