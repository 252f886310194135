"""Files back from the session: list a remote folder, download paths into the workspace."""

from __future__ import annotations

from pathlib import Path

from . import protocol
from .progress import progress
from .server import BridgeServer

__all__ = ["register"]


def register(server: BridgeServer) -> None:
    @server.command(protocol.LIST_REMOTE_FILES)
    async def list_remote(
        ls: BridgeServer, args: protocol.ListRemoteFilesArgs | None = None
    ) -> list[protocol.RemoteFile] | None:
        path = args.path if args is not None else "."
        try:
            listing = await ls.session_manager().call(lambda k: k.list_files(path))
        except Exception as e:
            ls.fail(f"listing {path} in the session", e)
            return None
        return [protocol.RemoteFile(e.filename, e.size, e.mode, e.mtime) for e in listing.files]

    @server.command(protocol.DOWNLOAD)
    async def download(
        ls: BridgeServer, args: protocol.DownloadArgs
    ) -> protocol.DownloadResult | None:
        dest = _destination(ls, args.dest)
        if dest is None:
            ls.tell("bai-bridge: downloads go into the workspace folder; none is open.")
            return None
        try:
            async with progress(ls, "bai-bridge: downloading") as report:

                def on_bytes(done: int, _total: int) -> None:
                    report(f"{done // 1024} KiB", 0)

                if ls.sync is not None:  # it records what lands in place
                    result = await ls.sync.fetch(args.paths, dest, on_bytes)
                else:
                    result = await ls.session_manager().call(
                        lambda k: k.download(args.paths, dest, progress=on_bytes)
                    )
        except Exception as e:
            ls.fail("downloading " + ", ".join(args.paths), e)
            return None
        return protocol.DownloadResult(result.file_names)


def _destination(ls: BridgeServer, dest: str | None) -> Path | None:
    """A folder inside the workspace (relative ``dest`` or the root); None if outside."""
    root = ls.root
    if root is None:
        return None
    target = (root / (dest or ".")).resolve()
    return target if target.is_relative_to(root.resolve()) else None
