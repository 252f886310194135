"""`Opening`: a stream to be awaited or entered, as the seed and today's client each do.

The seed opens with ``ws = await kernel.stream_pty()`` and leaves closing to the caller;
today's official client opens with ``async with kernel.stream_pty() as ws:`` and closes on
exit. The `Kernel` stream methods return one `Opening`, which serves both.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Closable", "Opening"]


class Closable(Protocol):
    async def close(self) -> None: ...


S = TypeVar("S", bound=Closable)


class Opening(Generic[S]):
    """``await`` it for the open stream (the caller closes it), or ``async with`` it."""

    def __init__(self, open_stream: Callable[[], Awaitable[S]]) -> None:
        self._open_stream = open_stream
        self._entered: S | None = None

    def __await__(self) -> Generator[Any, None, S]:
        return self._open_stream().__await__()

    async def __aenter__(self) -> S:
        self._entered = await self._open_stream()
        return self._entered

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stream, self._entered = self._entered, None
        if stream is not None:
            await stream.close()
