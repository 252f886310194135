"""Workspace sync, the pure part: which files to send, which to leave, which need a person.

The manifest records what sync itself put in the session: each file's content hash and the
size and mtime the session reported right after the upload. A remote file whose size or mtime
differs from its manifest entry was changed in the session, and is never overwritten without a
decision. Files sync did not put there are never touched either.

Equal size and mtime do not prove equal content (`cp -p`, `tar x`, `rsync -t` and `os.utime`
keep both), so a session file is replaced only after its content hash is seen to be the one
sync put there: such a file becomes a `Check`, settled by `settle_plan` once the session's
hashes are known. A session file of the local file's size is compared the same way, so a file
already identical on both sides (sent by a sync that was killed before it recorded it) is
recorded instead of asked about, and so is one whose mtime alone changed (a `touch`).
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
    WorkspaceScan,
    file_digest,
    is_excluded,
    iter_workspace,
    name_problem,
    scan_workspace,
)

__all__ = [  # the scanning names are re-exported from sync_scan
    "UNLISTED",
    "Check",
    "Conflict",
    "HashCache",
    "LocalFile",
    "Manifest",
    "ManifestEntry",
    "RemoteStat",
    "ScanCache",
    "SyncPlan",
    "WorkspaceFilter",
    "WorkspaceScan",
    "file_digest",
    "files_in_place",
    "is_excluded",
    "iter_workspace",
    "name_problem",
    "plan_sync",
    "scan_workspace",
    "settle",
    "settle_plan",
]

MANIFEST_PATH = ".bai-bridge/manifest.json"
_MTIME_SLACK = 1e-3  # remote mtimes travel as floats
# The mtime of an entry sent but not listed yet (its listing follows behind the upload): no
# session mtime equals it, so until then that copy is judged by its content alone.
UNLISTED = -1.0


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

    @property
    def listed(self) -> bool:
        """Whether the session's size and mtime of this copy were read (else: `UNLISTED`)."""
        return self.mtime != UNLISTED


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
class Check:
    """A file whose verdict waits on the session copy's content hash: sent when that copy is
    still what sync put there (``sent_sha``, the manifest's hash; None: never sent over it),
    recorded when it equals the local file, else ``conflict``."""

    path: str
    conflict: Conflict
    sent_sha: str | None = None


@attrs.frozen
class SyncPlan:
    upload: list[str]
    unchanged: list[str]
    conflicts: list[Conflict]
    checks: list[Check] = attrs.Factory(list)
    same: list[str] = attrs.Factory(list)  # equal content on both sides: recorded, not sent
    unproven: list[str] = attrs.Factory(list)  # session copy not compared: neither sent nor asked


Verdict = str | Conflict | Check  # "upload", "unchanged", a conflict, or a content check


def remote_changed(entry: ManifestEntry, stat: RemoteStat) -> bool:
    return stat.size != entry.size or abs(stat.mtime - entry.mtime) > _MTIME_SLACK


def plan_file(local: LocalFile, remote: RemoteStat | None, entry: ManifestEntry | None) -> Verdict:
    """ "upload", "unchanged", the conflict that needs a person, or the content check that
    decides (never a plain "upload" over a session file: its stat proves nothing)."""
    if remote is None:
        return "upload"
    if entry is None:
        conflict = Conflict(local.path, "not-synced-by-bridge")
        return Check(local.path, conflict) if remote.size == local.size else conflict
    if remote_changed(entry, remote):  # a touch, or an edit: the content tells
        conflict = Conflict(local.path, "changed-in-session")
        if remote.size in (local.size, entry.size):
            return Check(local.path, conflict, entry.sha256)
        return conflict
    if entry.sha256 == local.sha256:
        return "unchanged"
    return Check(local.path, Conflict(local.path, "changed-in-session"), entry.sha256)


def settle(check: Check, local_sha: str, remote_sha: str | None) -> str | Conflict | None:
    """ "upload", "same", the conflict, or None when the session's hash is not known."""
    if remote_sha is None:
        return None
    if remote_sha == local_sha:
        return "same"
    if remote_sha == check.sent_sha:
        return "upload"
    return check.conflict


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
        elif isinstance(verdict, Check):
            plan.checks.append(verdict)
        else:
            (plan.upload if verdict == "upload" else plan.unchanged).append(file.path)
    return plan


def settle_plan(
    plan: SyncPlan, local: Mapping[str, LocalFile], digests: Mapping[str, str]
) -> SyncPlan:
    """The plan with its checks decided by the session's content hashes (path -> sha256)."""
    done = SyncPlan(list(plan.upload), plan.unchanged, list(plan.conflicts))
    for check in plan.checks:
        verdict = settle(check, local[check.path].sha256, digests.get(check.path))
        if verdict is None:
            done.unproven.append(check.path)
        elif isinstance(verdict, Conflict):
            done.conflicts.append(verdict)
        else:
            (done.upload if verdict == "upload" else done.same).append(check.path)
    return done


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
