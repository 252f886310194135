"""Workspace sync, the pure part: which files to send, which to leave, which need a person.

The manifest records what sync itself put in the session: each file's content hash and the
size and mtime the session reported right after the upload. A remote file whose size or mtime
differs from its manifest entry was changed in the session, and is never overwritten without a
decision. Files sync did not put there are never touched either.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import attrs

from .sync_scan import (
    HashCache,
    LocalFile,
    ScanCache,
    WorkspaceFilter,
    file_digest,
    is_excluded,
    iter_workspace,
    scan_workspace,
)

__all__ = [  # the scanning names are re-exported from sync_scan
    "Conflict",
    "HashCache",
    "LocalFile",
    "Manifest",
    "ManifestEntry",
    "RemoteStat",
    "ScanCache",
    "SyncPlan",
    "WorkspaceFilter",
    "file_digest",
    "files_in_place",
    "is_excluded",
    "iter_workspace",
    "plan_sync",
    "scan_workspace",
]

MANIFEST_PATH = ".bai-bridge/manifest.json"
_MTIME_SLACK = 1e-3  # remote mtimes travel as floats


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
