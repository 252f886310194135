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

__all__ = ["load_manifest", "remote_stats", "save_manifest"]

log = logging.getLogger(__name__)
_PARALLEL_LISTINGS = 8


async def remote_stats(kernel: Kernel, paths: Iterable[str]) -> dict[str, RemoteStat]:
    """Size and mtime of those ``paths`` the session has (one listing per folder).

    Raises `ListingError` for a folder the session could not list, and a lost session's
    `BackendNotFoundError` as it is (the caller re-creates the session)."""
    # Normalised once per folder, not once per path (thousands of paths, a few folders).
    folders = sorted({str(PurePosixPath(d)) for d in {_folder(p) for p in paths}})
    gate = asyncio.Semaphore(_PARALLEL_LISTINGS)

    async def listing(folder: str) -> dict[str, RemoteStat]:
        async with gate:  # a missing folder lists empty; one that could not be listed
            found = await file_stats(kernel, folder)  # raises (never read as empty)
        prefix = "" if folder == "." else f"{folder}/"
        return {prefix + name: RemoteStat(*stat) for name, stat in found.items()}

    stats: dict[str, RemoteStat] = {}
    for found in await asyncio.gather(*(listing(f) for f in folders)):
        stats.update(found)
    return stats


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
