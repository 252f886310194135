"""Proofs fetched ahead: the session's copies of files edited here, read before the listing.

Sending an edited file over the session's copy needs proof that the copy is still what sync
put there, and for an edited file that proof is its content (`plan_file`): a sync or a save
that waited for the listing first, then fetched, then sent would take three round trips.
So the content of a few small such copies is fetched beside the listing, as soon as each
file is known to be edited: a save knows it at once, a sync as its scan hashes the file
anew (the scan reports each one from its thread), long before the scan and the listings
end. A copy whose content is as sync sent it may be replaced at once (`proven`); otherwise
the fetched digest stands in for the comparison after the listing, when the listing shows
the copy as sync left it (`digests`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from bai_bridge.api import Kernel
from bai_bridge.api.transfer import DOWNLOAD_PATHS_PER_REQUEST

from .sync_hash import HASH_BY_DOWNLOAD, remote_digests
from .sync_plan import LocalFile, Manifest, ManifestEntry, RemoteStat, remote_changed

__all__ = ["ProofsAhead"]

log = logging.getLogger(__name__)


class ProofsAhead:
    """Content fetches of the session's copies of small files edited here since sync sent
    them (at most one request's worth of paths; more edits are compared the usual way),
    each started as soon as the file is offered and a session is given (`start`).

    ``manifest`` is the one sync holds for the session these proofs are meant for; files in
    ``conflicts`` are left out (a standing conflict is decided without their content).
    """

    def __init__(self, manifest: Manifest | None, conflicts: Iterable[str] = ()) -> None:
        self.manifest = manifest
        # what a scan's thread reads to choose (copies, never changed); what is fetched is
        # chosen again, and its proof checked, against the manifest itself in the loop
        self._entries = dict(manifest.entries) if manifest is not None else {}
        self._conflicts = frozenset(conflicts)
        self.entries: dict[str, ManifestEntry] = {}  # of the files fetched (or to be)
        self._queued: dict[str, int] = {}  # path -> its size in the session, not asked yet
        self._kernel: Kernel | None = None
        self._tasks: list[asyncio.Future[dict[str, str]]] = []
        self._flush_soon = False

    def wanted(self, file: LocalFile) -> bool:
        """Whether ``file``'s session copy is one to fetch ahead (safe from any thread)."""
        entry = self._entries.get(file.path)
        return (
            entry is not None
            and entry.sha256 != file.sha256
            and entry.size <= HASH_BY_DOWNLOAD
            and file.path not in self._conflicts
        )

    def offer(self, files: Iterable[LocalFile]) -> None:
        """Fetch the copies of those of ``files`` that are wanted, while room is left; the
        fetch starts once a session is given, with whatever else is offered meanwhile."""
        live = self.manifest.entries if self.manifest is not None else {}
        for file in files:
            if len(self.entries) >= DOWNLOAD_PATHS_PER_REQUEST:
                break
            if file.path not in self.entries and self.wanted(file) and file.path in live:
                entry = self.entries[file.path] = live[file.path]
                self._queued[file.path] = entry.size
        if self._queued and self._kernel is not None and not self._flush_soon:
            self._flush_soon = True  # offers arriving in one turn of the loop: one request
            asyncio.get_running_loop().call_soon(self._flush)

    def start(self, kernel: Kernel) -> None:
        """Fetch from ``kernel``'s session what was offered and what is offered later."""
        self._kernel = kernel
        self._flush()

    def _flush(self) -> None:
        self._flush_soon = False
        if not self._queued or self._kernel is None:
            return
        task = asyncio.ensure_future(remote_digests(self._kernel, self._queued, 0.0))
        # Its failure is the listing's to report (or moot when the listing failed first).
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._tasks.append(task)
        self._queued = {}

    async def fetched(self) -> dict[str, str]:
        """The digests fetched, of the files whose manifest still holds the content it held
        when their fetch was asked for (another operation sent one meanwhile: its proof is
        void; a record of the session's stat meanwhile changes nothing; a fetch that failed
        proves nothing either)."""
        self._flush()
        found: dict[str, str] = {}
        for result in await asyncio.gather(*self._tasks, return_exceptions=True):
            if isinstance(result, asyncio.CancelledError):
                continue  # stopped: the sync it was for is over
            if isinstance(result, BaseException):
                log.info("fetching files to compare failed: %s", result)
                continue
            found.update(result)
        live = self.manifest.entries if self.manifest is not None else {}
        return {
            path: digest
            for path, digest in found.items()
            if (entry := live.get(path)) is not None and entry.sha256 == self.entries[path].sha256
        }

    async def proven(self, local: dict[str, LocalFile]) -> list[LocalFile]:
        """The files whose session copy is, by its fetched content, as sync sent it: the
        listing would decide nothing more for them (a copy changed after that fetch would
        be changed after the listing's look as well), so they may be sent at once."""
        return [
            local[path]
            for path, digest in (await self.fetched()).items()
            if digest == self.entries[path].sha256 and digest != local[path].sha256
        ]

    async def digests(self, remote: dict[str, RemoteStat]) -> dict[str, str]:
        """The fetched digests of the copies the listing shows as sync left them (another
        copy's content may have changed after its fetch: it is compared again)."""
        return {
            path: digest
            for path, digest in (await self.fetched()).items()
            if (stat := remote.get(path)) is not None
            # an unlisted copy has no stat to go by: its content is the proof, as it is for
            # a copy compared after the listing (both are read before the upload decides)
            and (not self.entries[path].listed or not remote_changed(self.entries[path], stat))
        }

    def cancel(self) -> None:
        """Stop the fetches still on their way (done by now, or not needed)."""
        self._queued = {}
        self._kernel = None
        for task in self._tasks:
            task.cancel()
