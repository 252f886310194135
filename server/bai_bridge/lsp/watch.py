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
from collections.abc import Iterable, Sequence
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path

from .server import BridgeServer
from .sync import mirror
from .sync_folders import SyncFolder, SyncFolders
from .sync_plan import is_excluded
from .sync_service import SAVE_COALESCE

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
    """Ask the client to watch the synced folders (anew when they change: the watchers
    replace the last ones); a client that cannot is left as it is."""
    services = ls.services_now()
    if services is None or not can_watch(ls):
        return
    if services.folders.watched:
        await _unregister(ls)
    roots = [folder.root for folder in services.folders]
    services.folders.watched = bool(roots)
    if not roots:
        return
    options = types.DidChangeWatchedFilesRegistrationOptions(
        watchers=[watcher_for(ls, root) for root in roots]
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


async def _unregister(ls: BridgeServer) -> None:
    gone = types.Unregistration(id=REGISTRATION_ID, method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    try:
        await ls.client_unregister_capability_async(
            types.UnregistrationParams(unregisterations=[gone])
        )
    except Exception as e:  # the new registration replaces it all the same
        log.info("the client did not drop the file watcher: %s", e)


class PendingDeletes:
    """Deletes seen on disk, mirrored in one batch after a short pause (a checkout deletes many
    files at once; a formatter's delete-and-recreate must not reach the session)."""

    def __init__(self) -> None:
        self.paths: set[tuple[SyncFolder, str]] = set()
        self.event = asyncio.Event()
        self.worker: asyncio.Task[None] | None = None

    def add(self, ls: BridgeServer, folder: SyncFolder, rels: list[str]) -> None:
        self.paths.update((folder, rel) for rel in rels)
        self.event.set()
        if self.worker is None:
            self.worker = ls.tasks.spawn(self.drain(ls), "watched-deletes")

    async def drain(self, ls: BridgeServer) -> None:
        while True:
            await self.event.wait()
            await asyncio.sleep(SAVE_COALESCE)
            self.event.clear()
            batch, self.paths = self.paths, set()
            folders = {folder for folder, _ in batch}
            for folder in folders:
                rels = sorted(rel for f, rel in batch if f == folder)
                await mirror_deletes(ls, folder, rels)


async def mirror_deletes(ls: BridgeServer, folder: SyncFolder, rels: list[str]) -> None:
    """Remove in the session what sync put there and is gone on disk now."""
    sync = folder.service
    absent = await asyncio.to_thread(lambda: [r for r in rels if not (sync.root / r).exists()])
    gone = [r for r in absent if sync.owned_under(r)]
    if gone:
        await mirror(ls, "delete", sync.remove(gone), folder.place)


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
    folder: SyncFolder, excludes: Iterable[str], events: list[types.FileEvent]
) -> tuple[list[str], list[str]]:
    """Files written (a created folder as its files) and paths deleted in ``folder``
    (blocking: it resolves paths and walks folders)."""
    written: list[str] = []
    deleted: list[str] = []
    for event in events:
        path = to_fs_path(event.uri)
        if path and (rel := folder.relative(Path(path))) is not None:
            (deleted if event.type == types.FileChangeType.Deleted else written).append(rel)
    return files_under(folder.root, excludes, written), deleted


def register(server: BridgeServer) -> None:
    deletes = PendingDeletes()

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def changed(ls: BridgeServer, params: types.DidChangeWatchedFilesParams) -> None:
        services = await ls.started_services()
        if services is None:
            return
        for folder, events in _by_folder(services.folders, params.changes):
            sync = folder.service
            excludes = sync.options.sync_excludes
            written, deleted = await asyncio.to_thread(sort_events, folder, excludes, events)
            for rel in written:
                sync.saved(rel)
            if deleted:
                deletes.add(ls, folder, deleted)


def _by_folder(
    folders: SyncFolders, changes: Sequence[types.FileEvent]
) -> list[tuple[SyncFolder, list[types.FileEvent]]]:
    """Each event with the folder of its file (the deepest one containing it)."""
    groups: dict[SyncFolder, list[types.FileEvent]] = {}
    for event in changes:
        if (found := folders.of_uri(event.uri)) is not None:
            groups.setdefault(found[0], []).append(event)
    return list(groups.items())
