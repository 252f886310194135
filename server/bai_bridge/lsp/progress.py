"""Server-initiated $/progress as a context manager that always ends."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from lsprotocol import types

from .server import BridgeServer

__all__ = ["progress"]

log = logging.getLogger(__name__)


@asynccontextmanager
async def progress(ls: BridgeServer, title: str) -> AsyncIterator[Callable[[str, int], None]]:
    """Yields ``report(message, percentage)``; silent if the client has no progress UI.

    The work starts at once: the editor makes its progress bar meanwhile (a round trip to
    it), and reports before the bar exists are left out."""
    token = f"bai-bridge/{uuid.uuid4().hex[:12]}"
    window = ls.client_capabilities.window
    shown: asyncio.Future[bool] | None = None
    if window is not None and window.work_done_progress:
        shown = asyncio.ensure_future(_begin(ls, token, title))

    def report(message: str, percentage: int) -> None:
        if shown is not None and _begun(shown):
            value = types.WorkDoneProgressReport(message=message, percentage=percentage)
            ls.work_done_progress.report(token, value)

    try:
        yield report
    finally:
        if shown is not None and shown.done():
            _end(ls, token, shown)  # before the work's answer goes out
        elif shown is not None:  # the work ended before the bar existed: ended once begun
            shown.add_done_callback(lambda begun: _end(ls, token, begun))


async def _begin(ls: BridgeServer, token: str, title: str) -> bool:
    try:
        await ls.work_done_progress.create_async(token)
    except Exception as e:
        log.info("progress not available: %s", e)
        return False
    ls.work_done_progress.begin(token, types.WorkDoneProgressBegin(title=title, percentage=0))
    return True


def _begun(shown: asyncio.Future[bool]) -> bool:
    return shown.done() and not shown.cancelled() and shown.exception() is None and shown.result()


def _end(ls: BridgeServer, token: str, shown: asyncio.Future[bool]) -> None:
    if _begun(shown):
        ls.work_done_progress.end(token, types.WorkDoneProgressEnd())
        ls.work_done_progress.tokens.pop(token, None)
