"""Multi-root workspaces: only the first folder is synced; the person is told, once, which
folders are not and what to do.

Syncing every folder into its own sub-directory of the work dir would move the first folder's
files away from where code and earlier sessions expect them, so one folder it stays.
"""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.uris import to_fs_path

from .server import BridgeServer

__all__ = ["register", "warn_root_removed", "warn_unsynced"]


def folder_paths(ls: BridgeServer) -> list[Path]:
    paths = (to_fs_path(f.uri) for f in ls.workspace.folders.values())
    return [Path(p) for p in paths if p]


def warn_unsynced(ls: BridgeServer) -> None:
    """A warning naming the folders sync leaves out, each folder named only once."""
    synced = ls.root
    if synced is None:
        return
    left_out = [p for p in folder_paths(ls) if p.resolve() != synced.resolve()]
    fresh = [p for p in left_out if f"unsynced-folder:{p}" not in ls.reported_problems]
    if not fresh:
        return
    ls.reported_problems.update(f"unsynced-folder:{p}" for p in fresh)
    names = ", ".join(p.name for p in fresh)
    ls.tell(
        f"bai-bridge syncs only one workspace folder, {synced.name}, to the session; "
        f"{names} {'is' if len(fresh) == 1 else 'are'} not synced. To use another folder in a "
        "session, open it in its own window (it gets its own session) or move it inside "
        f"{synced.name}.",
        types.MessageType.Warning,
    )


def warn_root_removed(ls: BridgeServer) -> None:
    """The synced folder left the workspace: sync keeps going there until a restart."""
    services = ls.services_now()
    first = services.folders.first if services is not None else None
    if first is None or first.root in {p.resolve() for p in folder_paths(ls)}:
        return
    key = f"removed-folder:{first.root}"
    if key not in ls.reported_problems:
        ls.reported_problems.add(key)
        ls.tell(
            f"bai-bridge: {first.root.name} left the workspace but stays the synced folder; "
            "restart the language server to sync the new first folder.",
            types.MessageType.Warning,
        )


def register(server: BridgeServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def changed(ls: BridgeServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        warn_root_removed(ls)
        warn_unsynced(ls)
