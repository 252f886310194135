"""Files changed on disk outside the editor (a checkout, a generator, a formatter run from the
shell): a watcher registered with the client, its events fed to sync.

Created and changed files go the way of saves (coalesced, excludes, `.gitignore`, the size cap
and the conflict rule all applied by `SyncService`); deletes are coalesced here and mirrored
only for files sync put in the session. Clients that cannot watch see no change at all.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from .server import BridgeServer
from .sync import mirror
from .sync_plan import is_excluded
from .sync_service import SAVE_COALESCE, SyncService

__all__ = ["register", "start_watching"]

log = logging.getLogger(__name__)
REGISTRATION_ID = "bai-bridge/watched-files"


def can_watch(ls: BridgeServer) -> bool:
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace is not None else None
    return bool(watched is not None and watched.dynamic_registration)


def watcher_for(ls: BridgeServer, root: Path) -> types.FileSystemWatcher:
    """Every file under the synced folder (a relative pattern when the client has them)."""
    workspace = ls.client_capabilities.workspace
    watched = workspace.did_change_watched_files if workspace is not None else None
    base = from_fs_path(str(root))
    if watched is not None and watched.relative_pattern_support and base is not None:
        pattern: types.GlobPattern = types.RelativePattern(base_uri=base, pattern="**/*")
    else:
        pattern = f"{root.as_posix()}/**/*"
    return types.FileSystemWatcher(glob_pattern=pattern)


async def start_watching(ls: BridgeServer) -> None:
    """Ask the client to watch the synced folder; a client that cannot is left as it is."""
    if ls.sync is None or not can_watch(ls):
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[watcher_for(ls, ls.sync.root)]
    )
    registration = types.Registration(
        id=REGISTRATION_ID,
        method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
        register_options=options,
    )
    try:
        await ls.client_register_capability_async(
            types.RegistrationParams(registrations=[registration])
        )
    except Exception as e:  # saves and workspace syncs still work without it
        log.warning("the client did not accept the file watcher: %s", e)


class PendingDeletes:
    """Deletes seen on disk, mirrored in one batch after a short pause (a checkout deletes many
    files at once; a formatter's delete-and-recreate must not reach the session)."""

    def __init__(self) -> None:
        self.paths: set[str] = set()
        self.event = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    def add(self, ls: BridgeServer, rels: list[str]) -> None:
        self.paths.update(rels)
        self.event.set()
        if self.worker is None:
            self.worker = ls.tasks.spawn(self.drain(ls), "watched-deletes")

    async def drain(self, ls: BridgeServer) -> None:
        while True:
            await self.event.wait()
            await asyncio.sleep(SAVE_COALESCE)
            self.event.clear()
            batch, self.paths = sorted(self.paths), set()
            if ls.sync is not None:
                await mirror_deletes(ls, ls.sync, batch)


async def mirror_deletes(ls: BridgeServer, sync: SyncService, rels: list[str]) -> None:
    """Remove in the session what sync put there and is gone on disk now."""
    absent = await asyncio.to_thread(lambda: [r for r in rels if not (sync.root / r).exists()])
    gone = [r for r in absent if sync.owned_under(r)]
    if gone:
        await mirror(ls, "delete", sync.remove(gone))


def relative_to(root: Path, uri: str) -> str | None:
    """The posix path of a file URI inside ``root`` (the synced folder), else None."""
    path = to_fs_path(uri)
    if path is None:
        return None
    try:
        rel = Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    return None if rel == "." else rel


def files_under(root: Path, excludes: Iterable[str], rels: list[str]) -> list[str]:
    """The paths themselves, with a created folder (moved in whole) replaced by its files;
    excluded folders are not walked, symlinks not followed, as in a workspace scan."""
    found: list[str] = []
    for rel in rels:
        path = root / rel
        if path.is_symlink() or not path.is_dir():
            found.append(rel)
        elif not is_excluded(root, excludes, rel, is_dir=True):
            found += walk_folder(root, excludes, rel)
    return found


def walk_folder(root: Path, excludes: Iterable[str], rel: str) -> list[str]:
    found: list[str] = []
    for dirpath, dirnames, names in os.walk(root / rel):
        here = Path(dirpath).relative_to(root).as_posix()
        dirnames[:] = [
            d for d in dirnames if not is_excluded(root, excludes, f"{here}/{d}", is_dir=True)
        ]
        found += [f"{here}/{n}" for n in names if not Path(dirpath, n).is_symlink()]
    return found


def sort_events(
    root: Path, excludes: Iterable[str], params: types.DidChangeWatchedFilesParams
) -> tuple[list[str], list[str]]:
    """Files written (a created folder as its files) and paths deleted under ``root``
    (blocking: it resolves paths and walks folders)."""
    written: list[str] = []
    deleted: list[str] = []
    for event in params.changes:
        if (rel := relative_to(root, event.uri)) is not None:
            (deleted if event.type == types.FileChangeType.Deleted else written).append(rel)
    return files_under(root, excludes, written), deleted


def register(server: BridgeServer) -> None:
    deletes = PendingDeletes()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def changed(ls: BridgeServer, params: types.DidChangeWatchedFilesParams) -> None:
        if not await ls.until_started() or ls.sync is None:
            return
        excludes = ls.sync.options.sync_excludes
        written, deleted = await asyncio.to_thread(sort_events, ls.sync.root, excludes, params)
        for rel in written:
            ls.sync.saved(rel)
        if deleted:
            deletes.add(ls, deleted)
