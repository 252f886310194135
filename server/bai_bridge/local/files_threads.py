"""Blocking file work in a worker thread, finished even when the caller is cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# A directory whose directory file is at most this large (on ext4 a few hundred entries) is
# worked on without a thread hop: listed in the event loop, or read whole once instead of a
# stat per entry. Its stats of cached inodes take well under a millisecond, less than a hop,
# and each system call of a worker thread waits for the interpreter lock while the loop is
# busy (a sync lists a whole workspace's folders at once).
SMALL_DIR_BYTES = 16 * 1024
# A regular file at most this large is downloaded without a thread hop (opened and read in
# the event loop): reading it from the page cache takes microseconds, while each hop of a
# comparison's download waits behind whatever the loop answers meanwhile (a sync's listings).
SMALL_FILE_BYTES = 64 * 1024


async def in_thread(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`asyncio.to_thread`, except that a cancelled caller still waits for the thread.

    Callers close the descriptors the thread uses in their `finally`; closing one while the
    thread still writes to it could hit a descriptor number already reused elsewhere.
    """
    task = asyncio.ensure_future(asyncio.to_thread(fn, *args, **kwargs))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise
