"""A sync's large files sent ahead: their chunks travel while the session is listed.

A large file goes up as chunks under hidden names that a batch run joins into place
(`api.upload.StagedFile`); sending them replaces nothing, so they need not wait for the
listing that decides whether the file may be replaced. A first sync of a workspace with a
model file or a dataset in it then has its largest transfer under way a round trip or two
earlier, and on a capped link its bytes go while the link would otherwise be idle. Only the
join waits for the decision; chunks of a file not to be sent after all (the session holds
it already, or holds another version: a conflict) are removed behind the sync.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Container, Coroutine
from pathlib import Path
from typing import Any

from bai_bridge.api import Kernel
from bai_bridge.api.transfer import UPLOAD_FILE_LIMIT
from bai_bridge.api.upload import StagedFile

from .sync_plan import LocalFile, Manifest

__all__ = ["LargeAhead"]

log = logging.getLogger(__name__)


class LargeAhead:
    """The large files of one sync, and those whose chunks were sent ahead, by path. The
    scan tells of each large file once it is read (`found`), possibly before the session
    and its manifest are known (`begin`); either order starts the send."""

    def __init__(self, root: Path, standing: Container[str]) -> None:
        self.root = root
        self.standing = standing  # paths in a standing conflict: never sent until decided
        self._found: dict[str, LocalFile] = {}
        self._known: tuple[Kernel, Manifest] | None = None
        self._sending: dict[str, tuple[LocalFile, asyncio.Task[StagedFile]]] = {}

    def found(self, file: LocalFile) -> None:
        if file.size < UPLOAD_FILE_LIMIT:
            return
        self._found[file.path] = file
        self._offer(file)

    def begin(self, kernel: Kernel, manifest: Manifest) -> None:
        """The session to send to and what its manifest says it holds (a session re-created
        meanwhile starts again: the chunks sent to the lost one are gone with it)."""
        self._known = (kernel, manifest)
        self._sending.clear()
        for file in self._found.values():
            self._offer(file)

    def _offer(self, file: LocalFile) -> None:
        """Send ``file`` ahead unless the manifest says the session holds it as it is (the
        listing will most likely confirm it) or its conflict stands."""
        if self._known is None or file.path in self._sending or file.path in self.standing:
            return
        kernel, manifest = self._known
        entry = manifest.entries.get(file.path)
        if entry is not None and entry.sha256 == file.sha256:
            return
        sending = kernel.stage_large(self.root / file.path, self.root, sha256=file.sha256)
        task = asyncio.ensure_future(sending)
        task.add_done_callback(_quiet)  # a failure is the upload's to meet again
        self._sending[file.path] = (file, task)

    async def take(self, file: LocalFile) -> StagedFile | None:
        """The chunks sent ahead for ``file`` as the sync saw it, once they are all in the
        session; None when there are none or they failed (a file rewritten since the scan
        fails its join's check)."""
        sending = self._sending.get(file.path)
        if sending is None or sending[0] != file:
            return None
        del self._sending[file.path]
        try:
            staged = await sending[1]
        except Exception as e:
            log.info("%s sent ahead failed (%s): sent again", file.path, e)
            return None
        return staged  # checked against the scan's digest when joined

    def discard_rest(self) -> list[Coroutine[Any, Any, None]]:
        """The removals of every file's chunks not taken (to run behind the sync); nothing
        more is sent ahead until `begin` again."""
        rest = [task for _, task in self._sending.values()]
        self._sending.clear()
        self._known = None
        return [_discard(task) for task in rest]


async def _discard(task: asyncio.Task[StagedFile]) -> None:
    try:
        staged = await task
    except Exception:
        return  # its own failure removed what it had sent
    await staged.discard()


def _quiet(task: asyncio.Task[StagedFile]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved: `take` or `_discard` meets it
