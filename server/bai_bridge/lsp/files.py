"""Files back from the session: list a remote folder, download paths into the workspace.

A download never overwrites local work: a file changed here since sync last saw it is
replaced only if the person says so (see landing.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types

from . import protocol
from .commands import command
from .landing import Arrival, discard, keep_both
from .progress import progress
from .server import BridgeServer
from .sync_folders import SyncFolder, SyncFolders
from .sync_service import SyncService

KEEP_MINE = "Keep mine"
TAKE_THEIRS = "Take the session's"
KEEP_BOTH = "Keep both"  # the session's copy is written beside, under a name that says so

__all__ = ["register"]


def register(server: BridgeServer) -> None:
    @command(server, protocol.LIST_REMOTE_FILES, protocol.ListRemoteFilesArgs, required=False)
    async def list_remote(
        ls: BridgeServer, args: protocol.ListRemoteFilesArgs | None = None
    ) -> list[protocol.RemoteFile] | None:
        path = args.path if args is not None else "."
        try:
            listing = await (await ls.session_manager()).call(lambda k: k.list_files(path))
        except Exception as e:
            ls.fail(f"listing {path} in the session", e)
            return None
        return [protocol.RemoteFile(e.filename, e.size, e.mode, e.mtime) for e in listing.files]

    @command(server, protocol.DOWNLOAD, protocol.DownloadArgs)
    async def download(
        ls: BridgeServer, args: protocol.DownloadArgs
    ) -> protocol.DownloadResult | None:
        services = await ls.started_services()
        if services is None:
            return None
        found = _destination(services.folders, args.dest)
        if found is None:
            ls.tell("bai-bridge: downloads go into a workspace folder; none is open.")
            return None
        folder, dest = found
        try:
            return await _download(ls, folder.service, args.paths, dest)
        except Exception as e:
            ls.fail("downloading " + ", ".join(args.paths), e)
            return None


async def _download(
    ls: BridgeServer, sync: SyncService, paths: list[str], dest: Path
) -> protocol.DownloadResult:
    """Fetch, place what replaces nothing unseen, ask about local edits, honour the answer."""
    async with progress(ls, "bai-bridge: downloading") as report:

        def on_bytes(done: int, _total: int) -> None:
            report(f"{done // 1024} KiB", 0)

        result, landing = await sync.fetch(paths, dest, on_bytes)
    try:
        kept = await sync.land(landing.safe, landing.same, paths, dest)  # changed meanwhile
        copies: list[str] = []
        answer = await _ask(ls, landing.clashes) if landing.clashes else None
        if answer == TAKE_THEIRS:
            kept += await sync.land(landing.clashes, [], paths, dest)
        elif answer == KEEP_BOTH:
            root = sync.root.resolve()
            copies = await asyncio.to_thread(lambda: [keep_both(a, root) for a in landing.clashes])
        elif answer is None:  # not decided: said, so the person knows what did not arrive
            kept += landing.clashes
    finally:
        await asyncio.to_thread(discard, landing.staging)
    _tell_kept(ls, [a.rel for a in kept])
    if answer == KEEP_MINE:
        kept += landing.clashes
    return protocol.DownloadResult(result.file_names, sorted(a.rel for a in kept), copies)


async def _ask(ls: BridgeServer, clashes: list[Arrival]) -> str | None:
    names = ", ".join(a.rel for a in clashes[:5]) + (" ..." if len(clashes) > 5 else "")
    return await ls.ask(
        f"bai-bridge: downloading would overwrite local changes to {names} (the local file "
        "differs from the session's copy and from what sync last saw). Nothing was "
        "overwritten yet.",
        [KEEP_MINE, TAKE_THEIRS, KEEP_BOTH],
    )


def _tell_kept(ls: BridgeServer, kept: list[str]) -> None:
    if kept:
        ls.tell(
            "bai-bridge: not downloaded, to keep local changes (download again to choose): "
            + ", ".join(kept[:10]),
            types.MessageType.Warning,
        )


def _destination(folders: SyncFolders, dest: str | None) -> tuple[SyncFolder, Path] | None:
    """A folder inside a workspace folder (``dest`` relative to the first one, default
    that folder itself) and the workspace folder it is in (whose sync records what lands);
    None if outside every one."""
    home = folders.home
    if home is None:
        return None
    target = (home.root / (dest or ".")).resolve()
    holders = [f for f in folders if target == f.root or f.relative(target) is not None]
    folder = max(holders, key=lambda f: len(f.root.parts), default=None)
    return (folder, target) if folder is not None else None
