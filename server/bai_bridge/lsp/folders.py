"""Multi-root workspaces: every workspace folder syncs to its own place in the session
(sync_folders.py has the rule); folders added or removed while the server runs start or
stop their sync. The person is told once where each folder goes.
"""

from __future__ import annotations

from lsprotocol import types

from . import sync, watch
from .server import BridgeServer
from .services import Services
from .sync_folders import SyncFolder, place_for, session_path

__all__ = ["register", "tell_places"]


def tell_places(ls: BridgeServer, services: Services) -> None:
    """Where the folders go, once for each layout (nothing to say for one folder)."""
    folders = list(services.folders)
    if len(folders) < 2 and all(f.place == "" for f in folders):
        return
    places = ", ".join(f"{f.root.name} → {session_path(f.place)}" for f in folders)
    key = f"folder-places:{places}"
    if key not in ls.reported_problems:
        ls.reported_problems.add(key)
        ls.tell(
            f"bai-bridge: workspace folders sync to the session: {places}.", types.MessageType.Info
        )


async def follow_workspace(ls: BridgeServer) -> None:
    """Sync the folders the workspace has now: the syncs of folders gone (or now inside
    another) stop, their files staying in the session; new ones start and sync."""
    services = ls.services_now()
    if services is None:
        return  # the start reads the folders as they are then
    folders = services.folders
    present = sync.workspace_roots(ls, root_uri=False)
    stopped = [gone for f in folders if f.root not in present and (gone := folders.remove(f.root))]
    for gone in stopped:
        gone.worker.cancel()
        await gone.service.flush()  # its records let a later sync trust the session
    started: list[SyncFolder] = []
    first = folders.first.root if folders.first is not None else None
    for root in present:
        if not folders.holds(root):
            place = place_for(root, folders.places(), first)
            started.append(sync.start_folder(ls, services.sessions, root, place))
            folders.add(started[-1])
    if not (started or stopped):
        return  # e.g. a folder added twice
    await watch.start_watching(ls)
    tell_places(ls, services)
    if started and ls.options.sync_on_start and services.sessions.kernel_if_ready is not None:
        await sync.sync_with_progress(ls, started)


def register(server: BridgeServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def changed(ls: BridgeServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        await ls.until_started()  # pygls has updated the workspace's folders by now
        await follow_workspace(ls)
