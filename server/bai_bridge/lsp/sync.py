"""File sync in the editor: didSave uploads, workspace sync with progress, conflicts asked.

`attach` builds the `SyncService` for a connection; `register` adds the handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import attrs
from lsprotocol import types
from pygls.uris import to_fs_path

from bai_bridge.api import BackendClientError, BackendNotFoundError, Kernel

from . import protocol
from .commands import command
from .folder_sessions import FolderSessions
from .progress import progress
from .server import BridgeServer
from .session import SessionManager, SessionUnavailable
from .sync_folders import WORK_DIR, SyncFolder, SyncFolders, outermost, place_for, remote_path
from .sync_plan import Conflict
from .sync_service import SyncService

__all__ = [
    "attach",
    "file_folder",
    "mirror",
    "register",
    "relative_path",
    "start_folder",
    "tell_kept",
    "workspace_roots",
]

log = logging.getLogger(__name__)
# Failures of the session or the way to it, not of one folder.
_SESSION_WIDE = (BackendClientError, BackendNotFoundError, SessionUnavailable)
OVERWRITE = "Overwrite with local"
KEEP_REMOTE = "Keep the session's"


def relative_path(ls: BridgeServer, uri: str) -> str | None:
    """A file's path in the session (relative to its work dir, through the file's folder),
    or None outside every workspace folder."""
    if (found := file_folder(ls, uri)) is not None:
        return found[0].remote(found[1])
    root, path = ls.root, to_fs_path(uri)
    if ls.services_now() is not None or root is None or path is None:
        return None
    try:  # before the start: the first folder's rule
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def file_folder(ls: BridgeServer, uri: str) -> tuple[SyncFolder, str] | None:
    """The synced folder of a file URI and the file's path inside it, or None."""
    services = ls.services_now()
    return services.folders.of_uri(uri) if services is not None else None


def attach(ls: BridgeServer, sessions: SessionManager) -> SyncFolders:
    """The syncs of the workspace folders (none without one), run by ``sessions``."""
    folders = SyncFolders()
    roots = workspace_roots(ls)
    if roots:  # the first to the work dir, exactly as a one-folder workspace
        folders.add(start_folder(ls, sessions, roots[0], WORK_DIR))
    for root in roots[1:]:
        place = place_for(root, folders.places(), roots[0])
        folders.add(start_folder(ls, sessions, root, place))

    async def on_ready(kernel: Kernel, reason: str) -> None:
        if reason in ("created", "attached"):  # what the session holds is not known
            for folder in folders:
                folder.service.forget_session()
        if ls.options.sync_on_start:
            await sync_with_progress(ls)

    sessions.on_ready.append(on_ready)

    def on_available() -> None:
        for folder in folders:
            folder.service.resume()
        if folders.cut_short:  # it goes on: what landed before the drop is known by content
            again = [f for f in folders if f in folders.cut_short]  # still in the workspace
            folders.cut_short = []
            ls.tasks.spawn(sync_with_progress(ls, again), "sync-after-drop")

    sessions.on_available.append(on_available)
    return folders


def workspace_roots(ls: BridgeServer, *, root_uri: bool = True) -> list[Path]:
    """The workspace folders to sync, resolved, in the client's order (the root URI of a
    client without folders, if ``root_uri``); one inside another is synced as part of it."""
    uris = [f.uri for f in ls.workspace.folders.values()]
    if not uris and root_uri:
        uris = [ls.workspace.root_uri]
    paths = [to_fs_path(uri) for uri in uris if uri]
    return outermost([Path(p).resolve() for p in paths if p])


def start_folder(ls: BridgeServer, sessions: SessionManager, root: Path, place: str) -> SyncFolder:
    """A folder's sync, its saves sent by a worker of its own."""
    service = SyncService(root, ls.options, FolderSessions(sessions, place))
    told = Told(root, place)
    service.on_conflicts = lambda conflicts: _ask(ls, service, told, conflicts)
    service.on_failure = lambda paths, e: ls.fail(f"syncing {told.listed(paths)}", e)
    service.on_too_large = lambda paths: _tell_too_large(ls, told, paths)
    service.on_problems = lambda problems: _tell_not_sent(ls, told, problems)
    worker = ls.tasks.spawn(service.save_worker(), f"sync-saves:{place or root.name}")
    return SyncFolder(root, place, service, worker)


async def sync_with_progress(
    ls: BridgeServer, only: list[SyncFolder] | None = None
) -> protocol.SyncResult | None:
    """Every folder (or ``only`` these), one after the other: one result, its paths as the
    session has them."""
    services = await ls.started_services()
    if services is None:
        return None
    results: list[tuple[SyncFolder, protocol.SyncResult]] = []
    failed: list[SyncFolder] = []
    folders = list(services.folders) if only is None else only
    try:
        async with progress(ls, "bai-bridge: syncing the workspace") as report:
            for folder in folders:
                try:
                    results.append((folder, await folder.service.sync_workspace(report)))
                except _SESSION_WIDE:
                    raise  # the session's or the server's: no other folder would fare better
                except Exception as e:  # this folder's own: said once, the others go on
                    ls.fail(f"syncing the workspace folder {folder.root.name}", e)
                    failed.append(folder)
    except Exception as e:
        if isinstance(e, BackendClientError):  # the way to the server broke: go on later
            done = {folder for folder, _ in results} | set(failed)
            services.folders.cut_short += [f for f in folders if f not in done]
        ls.fail("syncing the workspace", e)
        return None
    result = merged(results, failed)
    if result.skipped:
        ls.tell(
            f"bai-bridge: not synced (over the {ls.options.max_file_size} byte cap): "
            + ", ".join(result.skipped[:10]),
            types.MessageType.Warning,
        )
    return result


def merged(
    results: list[tuple[SyncFolder, protocol.SyncResult]], failed: list[SyncFolder]
) -> protocol.SyncResult:
    """One result, paths as the session has them; a folder that failed as a whole is one
    failed path, its place (``./`` for the work dir)."""

    def paths(pick: Callable[[protocol.SyncResult], list[str]]) -> list[str]:
        return [folder.remote(p) for folder, result in results for p in pick(result)]

    return protocol.SyncResult(
        uploaded=paths(lambda r: r.uploaded),
        unchanged=sum(r.unchanged for _, r in results),
        conflicts=paths(lambda r: r.conflicts),
        skipped=paths(lambda r: r.skipped),
        failed=paths(lambda r: r.failed) + [f"{f.place or '.'}/" for f in failed],
    )


@attrs.frozen
class Told:
    """How a folder's files are named to the person: as the session has them (``lib/data.txt``
    for a folder at ``/home/work/lib``); what is said once is keyed by the folder, so two
    folders' files of the same relative path are each said."""

    root: Path
    place: str

    def name(self, rel: str) -> str:
        return remote_path(self.place, rel)

    def listed(self, names: str) -> str:
        """An already joined list of the folder's paths, prefixed with the folder."""
        return f"{self.place}: {names}" if self.place else names

    def key(self, kind: str, rel: str) -> str:
        return f"{kind}:{self.root}:{rel}"


def _tell_too_large(ls: BridgeServer, told: Told, paths: list[str]) -> None:
    """A saved or changed file over the cap: said once per file, not on every save."""
    fresh = [p for p in paths if told.key("too-large", p) not in ls.reported_problems]
    ls.reported_problems.update(told.key("too-large", p) for p in fresh)
    if fresh:
        ls.tell(
            f"bai-bridge: not synced (over the {ls.options.max_file_size} byte cap "
            "maxFileSize): " + ", ".join(told.name(p) for p in fresh[:10]),
            types.MessageType.Warning,
        )


def _tell_not_sent(ls: BridgeServer, told: Told, problems: dict[str, str]) -> None:
    """Files left out for a reason (a refused name, unreadable, not comparable yet), each
    said once per reason."""
    keys = {p: told.key("not-sent", f"{p}:{why}") for p, why in problems.items()}
    fresh = {p: why for p, why in problems.items() if keys[p] not in ls.reported_problems}
    ls.reported_problems.update(keys[p] for p in fresh)
    if fresh:
        listed = "; ".join(f"{told.name(p)!r}: {why}" for p, why in list(fresh.items())[:10])
        more = f" (and {len(fresh) - 10} more)" if len(fresh) > 10 else ""
        ls.tell(f"bai-bridge: not synced: {listed}{more}", types.MessageType.Warning)


def _ask(ls: BridgeServer, service: SyncService, told: Told, conflicts: list[Conflict]) -> None:
    ls.tasks.spawn(_ask_person(ls, service, told, conflicts), "sync-conflict")


async def _ask_person(
    ls: BridgeServer, service: SyncService, told: Told, conflicts: list[Conflict]
) -> None:
    """Ask what to do; no answer leaves both sides as they are (RESOLVE_CONFLICT later)."""
    names = ", ".join(told.name(c.path) for c in conflicts[:5])
    names += " ..." if len(conflicts) > 5 else ""
    params = types.ShowMessageRequestParams(
        type=types.MessageType.Warning,
        message=(
            f"bai-bridge: {names} changed in the session since it was last synced (or was "
            "not put there by sync). Nothing was overwritten."
        ),
        actions=[types.MessageActionItem(OVERWRITE), types.MessageActionItem(KEEP_REMOTE)],
    )
    try:
        answer = await ls.window_show_message_request_async(params)
    except Exception as e:  # a client without this request: the command resolves it
        log.info("conflict question not answered: %s", e)
        return
    if answer is not None:
        action = "overwrite" if answer.title == OVERWRITE else "keep-remote"
        for conflict in conflicts:
            await resolve(ls, service, conflict.path, action, told.name(conflict.path))


async def resolve(
    ls: BridgeServer, service: SyncService, path: str, action: str, shown: str
) -> bool:
    """Settle a conflict of ``service``'s folder (``path`` inside it, ``shown`` as the
    person knows it) the person's way."""
    try:
        if action == "overwrite":
            await service.upload_files([path], force=True)
        elif action == "keep-remote":
            await service.keep_remote(path)
        else:
            raise ValueError(f"unknown action {action!r}: 'overwrite' or 'keep-remote'")
    except Exception as e:
        ls.fail(f"resolving {shown}", e)
        return False
    return True


def register(server: BridgeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: BridgeServer, params: types.DidSaveTextDocumentParams) -> None:
        await ls.until_started()  # a save in the first moments is sent, not dropped
        if (found := file_folder(ls, params.text_document.uri)) is not None:
            folder, rel = found
            folder.service.saved(rel)

    @command(server, protocol.SYNC_WORKSPACE)
    async def sync_workspace(ls: BridgeServer, _: None) -> protocol.SyncResult | None:
        return await sync_with_progress(ls)

    @command(server, protocol.RESOLVE_CONFLICT, protocol.ResolveConflictArgs)
    async def resolve_conflict(ls: BridgeServer, args: protocol.ResolveConflictArgs) -> bool:
        services = await ls.started_services()
        found = services.folders.of_session_path(args.path) if services is not None else None
        if found is None:
            return False
        folder, rel = found
        return await resolve(ls, folder.service, rel, args.action, args.path)

    register_file_operations(server)


def register_file_operations(server: BridgeServer) -> None:
    """Deletes and renames in the editor mirrored in the session (sync-owned files only)."""
    every_file = types.FileOperationRegistrationOptions(
        filters=[types.FileOperationFilter(pattern=types.FileOperationPattern(glob="**/*"))]
    )

    @server.feature(types.WORKSPACE_DID_DELETE_FILES, every_file)
    async def did_delete(ls: BridgeServer, params: types.DeleteFilesParams) -> None:
        await ls.until_started()
        for folder, rels in by_folder(ls, [f.uri for f in params.files]):
            await mirror(ls, "delete", folder.service.remove(rels), folder.place)

    @server.feature(types.WORKSPACE_DID_RENAME_FILES, every_file)
    async def did_rename(ls: BridgeServer, params: types.RenameFilesParams) -> None:
        await ls.until_started()
        for folder, pairs in renames_by_folder(ls, params.files):
            await mirror(ls, "rename", folder.service.rename(pairs), folder.place)


def by_folder(ls: BridgeServer, uris: list[str]) -> list[tuple[SyncFolder, list[str]]]:
    """Files inside synced folders, grouped by folder (their paths inside it)."""
    groups: dict[Path, tuple[SyncFolder, list[str]]] = {}
    for uri in uris:
        if (found := file_folder(ls, uri)) is not None:
            groups.setdefault(found[0].root, (found[0], []))[1].append(found[1])
    return list(groups.values())


def renames_by_folder(
    ls: BridgeServer, files: Sequence[types.FileRename]
) -> list[tuple[SyncFolder, list[tuple[str, str]]]]:
    """Renames inside one synced folder, grouped by folder. A move from one folder into
    another is a delete in the first and, like any new file there, an upload by the other
    (saved here; a moved folder's files come as the watcher's events)."""
    groups: dict[Path, tuple[SyncFolder, list[tuple[str, str]]]] = {}
    for f in files:
        old, new = file_folder(ls, f.old_uri), file_folder(ls, f.new_uri)
        if old is not None and new is not None and old[0] == new[0]:
            groups.setdefault(old[0].root, (old[0], []))[1].append((old[1], new[1]))
            continue
        if new is not None:
            new[0].service.saved(new[1])
        if old is not None:
            gone = mirror(ls, "delete", old[0].service.remove([old[1]]), old[0].place)
            ls.tasks.spawn(gone, "moved-out")
    return list(groups.values())


async def mirror(
    ls: BridgeServer, what: str, change: Awaitable[tuple[list[str], list[str]]], place: str
) -> None:
    """Await a delete or rename in the session of the folder at ``place``: a failure is
    shown, kept files are named as the session has them."""
    try:
        _removed, kept = await change
    except Exception as e:
        ls.fail(f"mirroring a {what}", e)
        return
    tell_kept(ls, [remote_path(place, k) for k in kept])


def tell_kept(ls: BridgeServer, kept: list[str]) -> None:
    if kept:
        ls.tell(
            "bai-bridge: kept in the session because they changed there since the last sync: "
            + ", ".join(kept),
            types.MessageType.Warning,
        )
