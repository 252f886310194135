"""One silent query in the user's kernel: the namespace mirror's snapshots and the session
environment's questions go this way (query mode, through any Backend.AI manager)."""

from __future__ import annotations

import asyncio

from bai_bridge.api import Kernel
from bai_bridge.api.models import Stdout

__all__ = ["silent_stdout"]

# Silent where the server can (ours; a manager ignores the option): no history entry, no
# execution count.
QUIET = {"silent": True}


async def silent_stdout(kernel: Kernel, code: str, limit: float | None) -> str:
    """What ``code`` printed; raises what the run raised, TimeoutError after ``limit`` s
    (None: no limit)."""
    text: list[str] = []
    async with asyncio.timeout(limit):
        # Never interrupts: queued behind a cell another client runs, a cancelled query
        # would interrupt their cell.
        async for result in kernel.run(code, opts=QUIET, interrupt=False):
            text.extend(i.text for i in result.console if isinstance(i, Stdout))
    return "".join(text)
