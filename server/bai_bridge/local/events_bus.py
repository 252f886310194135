"""The server's event bus: numbered events in a bounded history, read by cursors.

Subscribers do not get queues of their own: each one is a cursor into the shared history,
so publishing never waits for anyone, memory stays bounded, and a client reconnecting with
``Last-Event-ID`` resumes from the same history. A subscriber that falls more than the
history's length behind skips what was dropped (and the log says so).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from types import TracebackType

from bai_bridge.local.events_types import PublishedEvent, SessionEvent
from bai_bridge.local.events_wire import legacy_name

log = logging.getLogger(__name__)

_TWIN_LOOKBACK = 16


class EventBus:
    """Publish `SessionEvent`s with increasing ids; `subscribe()` to read them."""

    def __init__(self, *, history_size: int = 1000) -> None:
        self._history: deque[PublishedEvent] = deque(maxlen=history_size)
        self._last_id = 0
        self._published = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def last_id(self) -> int:
        return self._last_id

    def publish(self, event: SessionEvent) -> PublishedEvent:
        if self._closed:
            raise RuntimeError("the event bus is closed")
        self._last_id += 1
        item = PublishedEvent(self._last_id, event, self._repeats_legacy_name(event))
        self._history.append(item)
        self.notify()
        return item

    def subscribe(self, after: int | None = None) -> EventSubscription:
        """Events published from now on, or, with `after` (a Last-Event-ID), since that id."""
        if after is None or not 0 <= after <= self._last_id:
            after = self._last_id  # unknown ids (another server's) replay nothing
        return EventSubscription(self, after)

    def close(self) -> None:
        """End every subscription (server shutdown)."""
        self._closed = True
        self.notify()

    def next_after(self, cursor: int) -> PublishedEvent | None:
        """The first event with an id above `cursor` still in the history."""
        if not self._history or cursor >= self._last_id:
            return None
        first = self._history[0].id
        if cursor + 1 < first:
            log.warning("an event subscriber fell behind: %d events skipped", first - cursor - 1)
            cursor = first - 1
        return self._history[cursor + 1 - first]

    async def wait_published(self) -> None:
        await self._published.wait()

    def notify(self) -> None:
        """Wake every waiting subscriber to look again."""
        self._published.set()
        self._published = asyncio.Event()

    def _repeats_legacy_name(self, event: SessionEvent) -> bool:
        name = legacy_name(event.name)
        for i, earlier in enumerate(reversed(self._history)):
            if i >= _TWIN_LOOKBACK:
                break
            if earlier.event.session_id == event.session_id:
                return name is not None and legacy_name(earlier.event.name) == name
        return False


class EventSubscription:
    """A reader's position in the bus; `next()` is None once the bus or this is closed."""

    def __init__(self, bus: EventBus, after: int) -> None:
        self._bus = bus
        self.cursor = after
        self._closed = False

    async def next(self) -> PublishedEvent | None:
        """The next event, waiting for one; safe to cancel (nothing is consumed then)."""
        while not (self._closed or self._bus.closed):
            item = self._bus.next_after(self.cursor)
            if item is not None:
                self.cursor = item.id
                return item
            await self._bus.wait_published()
        return None

    def close(self) -> None:
        self._closed = True
        self._bus.notify()

    def __aiter__(self) -> EventSubscription:
        return self

    async def __anext__(self) -> PublishedEvent:
        item = await self.next()
        if item is None:
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> EventSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
