"""Workspace sync, the pure part: which files to send, which to leave, which need a person.

The manifest records what sync itself put in the session: each file's content hash and the
size and mtime the session reported right after the upload. A remote file whose size or mtime
differs from its manifest entry was changed in the session, and is never overwritten without a
decision. Files sync did not put there are never touched either.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import attrs
import pathspec

__all__ = [
    "Conflict",
    "LocalFile",
    "Manifest",
    "ManifestEntry",
    "RemoteStat",
    "SyncPlan",
    "WorkspaceFilter",
    "file_digest",
    "files_in_place",
    "plan_sync",
    "scan_workspace",
]

MANIFEST_PATH = ".bai-bridge/manifest.json"
_MTIME_SLACK = 1e-3  # remote mtimes travel as floats


@attrs.frozen
class LocalFile:
    path: str  # posix, relative to the workspace root
    size: int
    sha256: str


class RemoteStat(NamedTuple):
    """A session file's size and mtime (a tuple: thousands are made per listing)."""

    size: int
    mtime: float


@attrs.frozen
class ManifestEntry:
    sha256: str
    size: int
    mtime: float
    # first fetched from the session (a download), not put there by sync: never deleted there
    from_session: bool = False


@attrs.define
class Manifest:
    """What sync put in one session (keyed by session id: a new session starts empty)."""

    session_id: str = ""
    entries: dict[str, ManifestEntry] = attrs.Factory(dict)

    def to_json(self) -> str:
        entries = {
            path: {
                "from_session": e.from_session,
                "mtime": e.mtime,
                "sha256": e.sha256,
                "size": e.size,
            }
            for path, e in sorted(self.entries.items())
        }  # what attrs.asdict gives, built directly: thousands of entries
        return json.dumps({"entries": entries, "sessionId": self.session_id})

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data: Any = json.loads(text)
        entries = {p: ManifestEntry(**e) for p, e in data.get("entries", {}).items()}
        return cls(str(data.get("sessionId", "")), entries)


@attrs.frozen
class Conflict:
    path: str
    reason: str  # "changed-in-session" | "not-synced-by-bridge"


@attrs.frozen
class SyncPlan:
    upload: list[str]
    unchanged: list[str]
    conflicts: list[Conflict]


def remote_changed(entry: ManifestEntry, stat: RemoteStat) -> bool:
    return stat.size != entry.size or abs(stat.mtime - entry.mtime) > _MTIME_SLACK


def plan_file(
    local: LocalFile, remote: RemoteStat | None, entry: ManifestEntry | None
) -> str | Conflict:
    """ "upload", "unchanged", or the conflict that needs a person."""
    if remote is None:
        return "upload"
    if entry is None:
        return Conflict(local.path, "not-synced-by-bridge")
    if remote_changed(entry, remote):
        return Conflict(local.path, "changed-in-session")
    return "unchanged" if entry.sha256 == local.sha256 else "upload"


def plan_sync(
    local: Iterable[LocalFile],
    remote: Mapping[str, RemoteStat],
    manifest: Manifest,
) -> SyncPlan:
    plan = SyncPlan([], [], [])
    for file in local:
        verdict = plan_file(file, remote.get(file.path), manifest.entries.get(file.path))
        if isinstance(verdict, Conflict):
            plan.conflicts.append(verdict)
        else:
            (plan.upload if verdict == "upload" else plan.unchanged).append(file.path)
    return plan


class WorkspaceFilter:
    """Excludes (gitignore syntax) plus every `.gitignore` found, each relative to its folder."""

    def __init__(self, root: Path, excludes: Iterable[str]) -> None:
        self.root = root
        self._specs: list[tuple[str, pathspec.GitIgnoreSpec]] = [
            ("", pathspec.GitIgnoreSpec.from_lines(list(excludes)))
        ]

    def add_gitignore(self, folder: str) -> None:
        path = self.root / folder / ".gitignore"
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        self._specs.append((folder, pathspec.GitIgnoreSpec.from_lines(lines)))

    def excluded(self, rel: str, is_dir: bool = False) -> bool:
        for folder, spec in self._specs:
            if folder and not rel.startswith(folder + "/"):
                continue
            inner = rel[len(folder) + 1 :] if folder else rel
            if spec.match_file(inner + "/" if is_dir else inner):
                return True
        return False


def iter_workspace(root: Path, excludes: Iterable[str]) -> Iterator[str]:
    """Relative posix paths of the regular files to sync (blocking: run it in a thread)."""
    return (rel for rel, _entry in _walk_files(str(root), "", WorkspaceFilter(root, excludes)))


def _walk_files(
    path: str, folder: str, flt: WorkspaceFilter
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Like `os.walk` (top-down, sorted, symlinked folders not entered), yielding each
    regular file not excluded with its `DirEntry`, whose cached type spares a stat call."""
    try:
        with os.scandir(path) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except OSError:
        return  # vanished or unreadable folder: skipped, as os.walk does
    dirs = [e for e in entries if _is_dir(e)]
    files = [e for e in entries if not _is_dir(e)]
    if any(e.name == ".gitignore" for e in files):
        flt.add_gitignore(folder)
    prefix = f"{folder}/" if folder else ""
    dirs = [d for d in dirs if not flt.excluded(prefix + d.name, is_dir=True)]
    for entry in files:
        if _is_regular(entry) and not flt.excluded(prefix + entry.name):
            yield prefix + entry.name, entry
    for entry in dirs:
        if not entry.is_symlink():
            yield from _walk_files(entry.path, prefix + entry.name, flt)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """A regular file, not a symlink to one."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def file_digest(path: Path) -> tuple[int, str]:
    """Size and sha256 of a file (blocking)."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


HashCache = dict[str, tuple[int, int, str]]  # path -> (size, mtime_ns, sha256)


def scan_workspace(
    root: Path, excludes: Iterable[str], max_size: int, cache: HashCache | None = None
) -> tuple[list[LocalFile], list[str]]:
    """Files to sync with their hashes, and the paths skipped for exceeding ``max_size``.

    ``cache`` keeps hashes between scans: a file whose size and mtime did not change is not
    read again.
    """
    cache = {} if cache is None else cache
    files, too_large = [], []
    for rel, entry in _walk_files(str(root), "", WorkspaceFilter(root, excludes)):
        try:
            stat = entry.stat(follow_symlinks=False)
            if stat.st_size > max_size:
                too_large.append(rel)
                continue
            known = cache.get(rel)
            if known is None or known[:2] != (stat.st_size, stat.st_mtime_ns):
                size, sha = file_digest(root / rel)
                known = cache[rel] = (size, stat.st_mtime_ns, sha)
        except OSError:
            continue  # vanished while scanning
        files.append(LocalFile(rel, known[0], known[2]))
    return files, too_large


def is_excluded(root: Path, excludes: Iterable[str], rel: str, is_dir: bool = False) -> bool:
    """Whether one path is left out by the excludes or a `.gitignore` on its way (blocking)."""
    flt = WorkspaceFilter(root, excludes)
    parts = PurePosixPath(rel).parts
    for depth in range(len(parts)):
        folder = "/".join(parts[:depth])
        flt.add_gitignore(folder)
        here = "/".join(parts[: depth + 1])
        if flt.excluded(here, is_dir=is_dir or depth < len(parts) - 1):
            return True
    return False


def files_in_place(root: Path, dest: Path, paths: Iterable[str]) -> list[str]:
    """Of session paths downloaded into ``dest``, the local files that sit at the same
    workspace path as in the session (a folder counts with its files; blocking)."""
    found: list[str] = []
    for path in paths:
        remote = PurePosixPath(path)
        if remote.is_absolute() or ".." in remote.parts:
            continue
        local = dest / remote.name
        try:
            rel = local.relative_to(root).as_posix()
        except ValueError:
            continue
        if rel != remote.as_posix():
            continue
        if local.is_file():
            found.append(rel)
        for dirpath, _dirs, names in os.walk(local) if local.is_dir() else ():
            here = Path(dirpath).relative_to(root).as_posix()
            found += [f"{here}/{name}" for name in names]
    return found
