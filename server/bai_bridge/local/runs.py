"""The execution run loop (protocol doc §4): a run's output buffer and its result windows.

A producer (a kernel execution or a batch of shell steps) puts console records and status
markers into a `Run`; each client call takes what arrived within its flush window.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import attrs

CONSOLE_STREAMS = ("stdout", "stderr")


@attrs.frozen
class Record:
    """One console item: ``kind`` is stdout, stderr, media, html."""

    kind: str
    data: Any


@attrs.frozen
class Marker:
    """A status that ends a result window (finished, clean-finished, build-finished, ...)."""

    status: str
    exit_code: int | None = None
    options: dict[str, Any] | None = None


@attrs.frozen
class ExecResult:
    run_id: str
    status: str
    console: list[list[Any]]
    exit_code: int | None = None
    options: dict[str, Any] | None = None

    def to_wire(self, *, with_run_id: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": self.status,
            "console": self.console,
            "exitCode": self.exit_code,
            "options": self.options,
            "files": [],
        }
        if with_run_id:
            body["runId"] = self.run_id
        return body


def append_console(console: list[list[Any]], record: Record) -> None:
    """Add a record, merging it into the previous item when both are the same stream."""
    if record.kind in CONSOLE_STREAMS and console and console[-1][0] == record.kind:
        console[-1][1] += record.data
    else:
        console.append([record.kind, record.data])


class Run:
    """One run's buffered output; bounded, so a slow reader stalls the producer."""

    def __init__(self, run_id: str, limit: int = 4096) -> None:
        self.run_id = run_id
        self._limit = limit
        self._items: collections.deque[Record | Marker] = collections.deque()
        self._readable = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self.ended = False
        self.waiting_input = False
        self.reads = 0  # result windows taken: whether anyone still follows the run
        # Who follows the run: a client continuing it after a drop takes it over from the
        # connection that dropped (which may not know yet), one window at a time.
        self.follower = 0
        self._reading = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None

    async def put(self, item: Record | Marker) -> None:
        while len(self._items) >= self._limit:
            self._writable.clear()
            await self._writable.wait()
        self._push(item)

    def push(self, item: Record | Marker) -> None:
        """`put` for a producer that cannot wait (a kernel's messages come regardless)."""
        self._push(item)

    def end(self, exit_code: int, message: str | None = None) -> None:
        """Finish the run now (never blocks); a no-op when it has already finished."""
        if self.ended:
            return
        if message:
            self._items.append(Record("stderr", message))
        self._push(Marker("finished", exit_code))

    def _push(self, item: Record | Marker) -> None:
        if isinstance(item, Marker) and item.status == "finished":
            self.ended = True
        self._items.append(item)
        self._readable.set()

    def unread(self, result: ExecResult) -> None:
        """Put back a window its client never got (the connection went while it was on its
        way): the run's next window starts with it, so a client that continues the run after
        the drop misses nothing."""
        items: list[Record | Marker] = [Record(kind, data) for kind, data in result.console]
        if result.status != "continued":
            items.append(Marker(result.status, result.exit_code, result.options))
        self._items.extendleft(reversed(items))
        if items:
            self._readable.set()

    async def _next(self, deadline: float) -> Record | Marker | None:
        loop = asyncio.get_running_loop()
        while not self._items:
            self._readable.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            try:
                async with asyncio.timeout(remaining):
                    await self._readable.wait()
            except TimeoutError:
                return None
        item = self._items.popleft()
        self._writable.set()
        return item

    def take_over(self) -> int:
        """Become the run's follower; its id, for `next_result`."""
        self.follower += 1
        return self.follower

    async def next_result(
        self, flush_window: float, follower: int | None = None
    ) -> ExecResult | None:
        """What arrived until a status marker or the end of the flush window (§4.6); None
        (the window kept for the next reader) when ``follower`` was taken over meanwhile.
        Windows are taken one at a time, so a window put back precedes the next one."""
        async with self._reading:
            result = await self._window(flush_window)
            if follower is not None and follower != self.follower:
                self.unread(result)
                return None
            return result

    async def _window(self, flush_window: float) -> ExecResult:
        self.reads += 1
        deadline = asyncio.get_running_loop().time() + flush_window
        console: list[list[Any]] = []
        while (item := await self._next(deadline)) is not None:
            if isinstance(item, Marker):
                self.waiting_input = item.status == "waiting-input"
                return ExecResult(self.run_id, item.status, console, item.exit_code, item.options)
            append_console(console, item)
        return ExecResult(self.run_id, "continued", console)
