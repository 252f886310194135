"""What sync writes down after the files are in the session, done behind the operation.

An upload is what a person waits for (a save, a run of the file, a sync); writing down what
both sides now hold is not: the session's stats of the files sent (a listing) and the
manifest kept in the session (an upload) follow in the background. Each costs a round trip
over a WAN, so a save or Run File no longer waits for two more after its upload.

Nothing is decided on a stat still being read: a file sent is in the manifest at once with
its mtime `UNLISTED`, so a sync or an upload that follows at once judges that copy by its
content (which it fetches beside its listing anyway), and waits for no record. Deletes and
downloads settle the records first (`Bookkeeping.settle`). A language server stopped before a
record landed leaves the previous manifest in the session; the next sync recognises by
content what was sent after it, as it does for a sync killed half way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bai_bridge.api import Kernel

from .sync_plan import Manifest

__all__ = ["Bookkeeping", "ManifestSaver"]

log = logging.getLogger(__name__)

SaveManifest = Callable[[Kernel, str], Awaitable[None]]


class ManifestSaver:
    """Saves the manifest in the session, one save at a time, the newest state winning (a
    burst of records costs one or two saves, never an older state landing last)."""

    def __init__(self, save: SaveManifest, current: Callable[[], Manifest | None]) -> None:
        self._save = save
        self._current = current  # the manifest sync holds now (None once forgotten)
        self._wanted: tuple[Kernel, Manifest] | None = None
        self._worker: asyncio.Task[None] | None = None

    def schedule(self, kernel: Kernel, manifest: Manifest) -> None:
        self._wanted = (kernel, manifest)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="sync-manifest-save")

    def drop(self) -> None:
        """The session was re-created: what was meant for the old one is not saved."""
        self._wanted = None

    async def flush(self) -> None:
        """Until the saves asked for so far are done (or failed, logged)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def _drain(self) -> None:
        while (wanted := self._wanted) is not None:
            self._wanted = None
            kernel, manifest = wanted
            if manifest is not self._current():
                continue  # forgotten meanwhile: a new session starts from its own
            text = manifest.to_json()  # taken now: later records go in the next save
            try:
                await self._save(kernel, text)
            except Exception as e:  # the next record saves again; a restart recognises by content
                log.info("the sync manifest was not saved in the session: %s", e)


class Bookkeeping:
    """Records started behind operations; `settle` waits for them. A failed one is logged: a
    record that did not land only costs the next sync a comparison by content."""

    def __init__(self) -> None:
        self._pending: list[asyncio.Task[None]] = []

    def later(self, record: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(record, name=name)
        self._pending.append(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self._pending.remove(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            log.info("a sync record was not written: %s", error)

    async def settle(self) -> None:
        while self._pending:
            await asyncio.wait(list(self._pending))  # a cancelled waiter cancels none
