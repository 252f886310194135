"""File sync in the editor: didSave uploads, workspace sync with progress, conflicts asked.

`attach` builds the `SyncService` for a connection; `register` adds the handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from bai_bridge.api import Kernel

from . import protocol
from .commands import command
from .progress import progress
from .server import BridgeServer
from .sync_plan import Conflict
from .sync_service import SyncService

__all__ = ["attach", "mirror", "register", "relative_path", "tell_kept"]

log = logging.getLogger(__name__)
OVERWRITE = "Overwrite with local"
KEEP_REMOTE = "Keep the session's"


def relative_path(ls: BridgeServer, uri: str) -> str | None:
    """The workspace-relative posix path of a file URI, or None outside the workspace."""
    root, path = ls.root, to_fs_path(uri)
    if root is None or path is None:
        return None
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


def attach(ls: BridgeServer) -> None:
    root, sessions = ls.root, ls.sessions
    if root is None or sessions is None:
        return  # no workspace folder: nothing to sync
    service = SyncService(root, ls.options, sessions)
    service.on_conflicts = lambda conflicts: _ask(ls, conflicts)
    service.on_failure = lambda path, e: ls.fail(f"syncing {path}", e)
    service.on_too_large = lambda paths: _tell_too_large(ls, paths)
    service.on_problems = lambda problems: _tell_not_sent(ls, problems)

    async def on_ready(kernel: Kernel, reason: str) -> None:
        if reason in ("created", "attached"):  # what the session holds is not known
            service.forget_session()
        if ls.options.sync_on_start:
            await sync_with_progress(ls)

    sessions.on_ready.append(on_ready)
    sessions.on_available.append(service.resume)
    ls.sync = service
    ls.tasks.spawn(service.save_worker(), "sync-saves")


async def sync_with_progress(ls: BridgeServer) -> protocol.SyncResult | None:
    if not await ls.until_started() or ls.sync is None:
        return None
    try:
        async with progress(ls, "bai-bridge: syncing the workspace") as report:
            result = await ls.sync.sync_workspace(report)
    except Exception as e:
        ls.fail("syncing the workspace", e)
        return None
    if result.skipped:
        ls.tell(
            f"bai-bridge: not synced (over the {ls.options.max_file_size} byte cap): "
            + ", ".join(result.skipped[:10]),
            types.MessageType.Warning,
        )
    return result


def _tell_too_large(ls: BridgeServer, paths: list[str]) -> None:
    """A saved or changed file over the cap: said once per file, not on every save."""
    fresh = [p for p in paths if f"too-large:{p}" not in ls.reported_problems]
    ls.reported_problems.update(f"too-large:{p}" for p in fresh)
    if fresh:
        ls.tell(
            f"bai-bridge: not synced (over the {ls.options.max_file_size} byte cap "
            "maxFileSize): " + ", ".join(fresh[:10]),
            types.MessageType.Warning,
        )


def _tell_not_sent(ls: BridgeServer, problems: dict[str, str]) -> None:
    """Files left out for a reason (a refused name, unreadable, not comparable yet), each
    said once per reason."""
    fresh = {
        p: why for p, why in problems.items() if f"not-sent:{p}:{why}" not in ls.reported_problems
    }
    ls.reported_problems.update(f"not-sent:{p}:{why}" for p, why in fresh.items())
    if fresh:
        listed = "; ".join(f"{p!r}: {why}" for p, why in list(fresh.items())[:10])
        more = f" (and {len(fresh) - 10} more)" if len(fresh) > 10 else ""
        ls.tell(f"bai-bridge: not synced: {listed}{more}", types.MessageType.Warning)


def _ask(ls: BridgeServer, conflicts: list[Conflict]) -> None:
    ls.tasks.spawn(_ask_person(ls, conflicts), "sync-conflict")


async def _ask_person(ls: BridgeServer, conflicts: list[Conflict]) -> None:
    """Ask what to do; no answer leaves both sides as they are (RESOLVE_CONFLICT later)."""
    names = ", ".join(c.path for c in conflicts[:5]) + (" ..." if len(conflicts) > 5 else "")
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
            await resolve(ls, conflict.path, action)


async def resolve(ls: BridgeServer, path: str, action: str) -> bool:
    if not await ls.until_started() or ls.sync is None:
        return False
    try:
        if action == "overwrite":
            await ls.sync.upload_files([path], force=True)
        elif action == "keep-remote":
            await ls.sync.keep_remote(path)
        else:
            raise ValueError(f"unknown action {action!r}: 'overwrite' or 'keep-remote'")
    except Exception as e:
        ls.fail(f"resolving {path}", e)
        return False
    return True


def register(server: BridgeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def did_save(ls: BridgeServer, params: types.DidSaveTextDocumentParams) -> None:
        await ls.until_started()  # a save in the first moments is sent, not dropped
        rel = relative_path(ls, params.text_document.uri)
        if ls.sync is not None and rel is not None:
            ls.sync.saved(rel)

    @command(server, protocol.SYNC_WORKSPACE)
    async def sync_workspace(ls: BridgeServer, _: None) -> protocol.SyncResult | None:
        return await sync_with_progress(ls)

    @command(server, protocol.RESOLVE_CONFLICT, protocol.ResolveConflictArgs)
    async def resolve_conflict(ls: BridgeServer, args: protocol.ResolveConflictArgs) -> bool:
        return await resolve(ls, args.path, args.action)

    register_file_operations(server)


def register_file_operations(server: BridgeServer) -> None:
    """Deletes and renames in the editor mirrored in the session (sync-owned files only)."""
    every_file = types.FileOperationRegistrationOptions(
        filters=[types.FileOperationFilter(pattern=types.FileOperationPattern(glob="**/*"))]
    )

    @server.feature(types.WORKSPACE_DID_DELETE_FILES, every_file)
    async def did_delete(ls: BridgeServer, params: types.DeleteFilesParams) -> None:
        await ls.until_started()
        rels = [r for f in params.files if (r := relative_path(ls, f.uri)) is not None]
        if ls.sync is None or not rels:
            return
        await mirror(ls, "delete", ls.sync.remove(rels))

    @server.feature(types.WORKSPACE_DID_RENAME_FILES, every_file)
    async def did_rename(ls: BridgeServer, params: types.RenameFilesParams) -> None:
        await ls.until_started()
        pairs = [
            (old, new)
            for f in params.files
            if (old := relative_path(ls, f.old_uri)) is not None
            and (new := relative_path(ls, f.new_uri)) is not None
        ]
        if ls.sync is None or not pairs:
            return
        await mirror(ls, "rename", ls.sync.rename(pairs))


async def mirror(
    ls: BridgeServer, what: str, change: Awaitable[tuple[list[str], list[str]]]
) -> None:
    """Await a delete or rename in the session: a failure is shown, kept files are named."""
    try:
        _removed, kept = await change
    except Exception as e:
        ls.fail(f"mirroring a {what}", e)
        return
    tell_kept(ls, kept)


def tell_kept(ls: BridgeServer, kept: list[str]) -> None:
    if kept:
        ls.tell(
            "bai-bridge: kept in the session because they changed there since the last sync: "
            + ", ".join(kept),
            types.MessageType.Warning,
        )
