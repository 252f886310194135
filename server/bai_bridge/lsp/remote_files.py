"""Reading the session's side for sync: stat listings and the manifest kept in the session.

The manifest lives in the session (``.bai-bridge/manifest.json``), so it describes exactly
what sync put in *that* session: a re-created session starts without one, and a restarted
language server finds it again.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from bai_bridge.api import Kernel
from bai_bridge.api.listing import file_stats

from .sync_plan import MANIFEST_PATH, Manifest, RemoteStat

__all__ = ["FolderListings", "load_manifest", "remote_stats", "save_manifest"]

log = logging.getLogger(__name__)
_PARALLEL_LISTINGS = 8


async def remote_stats(kernel: Kernel, paths: Iterable[str]) -> dict[str, RemoteStat]:
    """Size and mtime of those ``paths`` the session has (one listing per folder).

    Raises `ListingError` for a folder the session could not list, and a lost session's
    `BackendNotFoundError` as it is (the caller re-creates the session)."""
    listings = FolderListings(kernel)
    try:
        return await listings.stats(paths)
    finally:
        listings.cancel()


class FolderListings:
    """The listings of a session's folders, each asked for once: a caller that learns of
    folders before it knows every path (a scan walking the workspace) starts their listings
    early (`start`), so they are on their way while it reads the files."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel
        self._gate = asyncio.Semaphore(_PARALLEL_LISTINGS)
        self._listings: dict[str, asyncio.Future[dict[str, RemoteStat]]] = {}

    def start(self, folder: str) -> None:
        """List ``folder`` (a path's ``_folder``; "" for the root) unless it is on its way."""
        folder = str(PurePosixPath(folder))  # normalised once per folder, not per path
        if folder not in self._listings:
            listing = asyncio.ensure_future(self._listing(folder))
            # One that nobody awaits (no file of it sent after all) fails unheard.
            listing.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._listings[folder] = listing

    async def stats(self, paths: Iterable[str]) -> dict[str, RemoteStat]:
        """Size and mtime of those ``paths`` the session has (see `remote_stats`)."""
        folders = {_folder(p) for p in paths}
        for folder in folders:
            self.start(folder)
        wanted = sorted({str(PurePosixPath(f)) for f in folders})
        stats: dict[str, RemoteStat] = {}
        for found in await asyncio.gather(*(self._listings[f] for f in wanted)):
            stats.update(found)
        return stats

    def cancel(self) -> None:
        """Stop the listings still on their way (nobody waits for them any more)."""
        for listing in self._listings.values():
            listing.cancel()

    async def _listing(self, folder: str) -> dict[str, RemoteStat]:
        async with self._gate:  # a missing folder lists empty; one that could not be listed
            found = await file_stats(self._kernel, folder)  # raises (never read as empty)
        prefix = "" if folder == "." else f"{folder}/"
        return {prefix + name: RemoteStat(*stat) for name, stat in found.items()}


def _folder(path: str) -> str:
    """``posixpath.dirname``, cheaper: the paths come from sync (no trailing slashes)."""
    return path.rpartition("/")[0]


async def load_manifest(kernel: Kernel) -> Manifest:
    """The manifest sync left in this session, or an empty one."""
    session_id = kernel.session_id or kernel.kernel_id
    if MANIFEST_PATH not in await remote_stats(kernel, [MANIFEST_PATH]):
        return Manifest(session_id)
    with tempfile.TemporaryDirectory(prefix="bai-bridge-") as tmp:
        await kernel.download([MANIFEST_PATH], tmp)
        found = await asyncio.to_thread(lambda: list(Path(tmp).rglob("manifest.json")))
        if not found:
            return Manifest(session_id)
        text = await asyncio.to_thread(found[0].read_text, encoding="utf-8")
    try:
        manifest = Manifest.from_json(text)
    except (ValueError, TypeError, KeyError) as e:
        log.warning("ignoring an unreadable sync manifest in the session: %s", e)
        return Manifest(session_id)
    manifest.session_id = session_id
    return manifest


async def save_manifest(kernel: Kernel, text: str) -> None:
    """Put a manifest's JSON (`Manifest.to_json`) in the session."""
    with tempfile.TemporaryDirectory(prefix="bai-bridge-") as tmp:
        path = Path(tmp, MANIFEST_PATH)
        path.parent.mkdir(parents=True)
        await asyncio.to_thread(path.write_text, text, encoding="utf-8")
        await kernel.upload([path], basedir=tmp)
