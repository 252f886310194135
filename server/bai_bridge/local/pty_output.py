"""One viewer's share of a terminal's output: a bounded buffer that hands out big chunks.

A terminal's output is read once and offered to every attached viewer. Each viewer has its
own buffer, so a slow WebSocket only holds up the terminal while its buffer is full, and a
viewer stuck for longer than a grace period is dropped instead of stalling the others.
Reading takes everything buffered at once (up to a cap), so under load the frames grow.
"""

from __future__ import annotations

import asyncio
from collections import deque

_BUFFER_LIMIT = 1 << 20
_TAKE_LIMIT = 256 * 1024
STALL_GRACE = 10.0


class TerminalOutput:
    """Output of a terminal since this viewer attached; `next()` is b"" once it has ended."""

    def __init__(self, buffer_limit: int = _BUFFER_LIMIT) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = buffer_limit
        self._ended = False
        self._readable = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()

    @property
    def ended(self) -> bool:
        return self._ended

    async def put(self, chunk: bytes, grace: float = STALL_GRACE) -> bool:
        """Queue `chunk`, waiting up to `grace` seconds for room; False if the viewer stalled."""
        if self._ended:
            return True  # detached meanwhile: nothing to deliver
        try:
            await asyncio.wait_for(self._room.wait(), grace)
        except TimeoutError:
            return False
        if self._ended:
            return True
        self._chunks.append(chunk)
        self._size += len(chunk)
        self._readable.set()
        if self._size >= self._limit:
            self._room.clear()
        return True

    def end(self) -> None:
        self._ended = True
        self._readable.set()

    async def next(self) -> bytes:
        """Everything buffered (up to 256 KiB), waiting for some; b"" once ended and drained."""
        while not self._chunks:
            if self._ended:
                return b""
            self._readable.clear()
            await self._readable.wait()
        taken = [self._chunks.popleft()]
        size = len(taken[0])
        while self._chunks and size + len(self._chunks[0]) <= _TAKE_LIMIT:
            taken.append(self._chunks.popleft())
            size += len(taken[-1])
        self._size -= size
        if self._size < self._limit:
            self._room.set()
        return b"".join(taken)


SCROLLBACK_LIMIT = 256 * 1024


class Scrollback:
    """The last `SCROLLBACK_LIMIT` bytes a terminal wrote, and how many it wrote in all: what
    a viewer whose connection dropped missed is replayed from it when it re-attaches."""

    def __init__(self, limit: int = SCROLLBACK_LIMIT) -> None:
        self._data = bytearray()
        self._limit = limit
        self.total = 0  # bytes written since the terminal started

    def add(self, chunk: bytes) -> None:
        self._data += chunk
        self.total += len(chunk)
        if (excess := len(self._data) - self._limit) > 0:
            del self._data[:excess]

    def since(self, offset: int) -> tuple[int, bytes]:
        """Where the output from ``offset`` on begins (later when the oldest of it is no
        longer kept), and its bytes. A negative ``offset`` asks for none (where output
        stands now); one past the end is a viewer of an earlier terminal (before a
        restart): it gets all that is kept."""
        kept_from = self.total - len(self._data)
        if offset < 0:
            return self.total, b""
        if offset > self.total:
            offset = 0
        begin = max(offset, kept_from)
        return begin, bytes(self._data[begin - kept_from :])
