"""Server-initiated $/progress as a context manager that always ends."""

from __future__ import annotations

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
    """Yields ``report(message, percentage)``; silent if the client has no progress UI."""
    token = f"bai-bridge/{uuid.uuid4().hex[:12]}"
    window = ls.client_capabilities.window
    begun = False
    if window is not None and window.work_done_progress:
        try:
            await ls.work_done_progress.create_async(token)
            ls.work_done_progress.begin(
                token, types.WorkDoneProgressBegin(title=title, percentage=0)
            )
            begun = True
        except Exception as e:
            log.info("progress not available: %s", e)

    def report(message: str, percentage: int) -> None:
        if begun:
            value = types.WorkDoneProgressReport(message=message, percentage=percentage)
            ls.work_done_progress.report(token, value)

    try:
        yield report
    finally:
        if begun:
            ls.work_done_progress.end(token, types.WorkDoneProgressEnd())
            ls.work_done_progress.tokens.pop(token, None)
