"""Session lifecycle events over SSE, reconnecting after drops (protocol doc §5.1).

`sse_messages` keeps one logical stream alive: when the connection drops it waits for the
server's ``retry`` interval and reconnects with ``Last-Event-ID``. `session_events` picks the
path and query for the negotiated version and types each message as a `SessionEvent`;
`EventStream` is what `Kernel.stream_events` opens: those events, and `close`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import aiohttp

from .errors import BackendClientError, BackendStreamBroken
from .models import SessionEvent, SessionEventData, converter
from .session import APISession, Query
from .sse import SSEMessage, SSEParser

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = [
    "DEFAULT_RETRY",
    "MAX_FAILURES",
    "EventStream",
    "open_session_events",
    "session_events",
    "sse_messages",
]

log = logging.getLogger(__name__)

DEFAULT_RETRY = 5.0  # seconds, the official client's reconnect interval
MAX_FAILURES = 5  # consecutive failed reconnects before giving up


async def sse_messages(
    session: APISession,
    path: str,
    query: Query | None = None,
    *,
    last_event_id: str | None = None,
    default_retry: float = DEFAULT_RETRY,
    max_failures: int = MAX_FAILURES,
    on_connect: Callable[[], None] | None = None,
    on_drop: Callable[[BaseException], None] | None = None,
) -> AsyncGenerator[SSEMessage, None]:
    """Messages of the stream at ``path`` until the consumer stops; reconnects on drops.

    Non-2xx answers raise the mapped `BackendAPIError`; ``max_failures`` reconnects in a row
    that do not get through raise `BackendClientError`. ``on_connect`` is called each time
    the server's headers arrive (events from then on are not missed); ``on_drop`` each time
    the stream is lost or a reconnect fails, at once, not after the retries: what a caller
    that shows the connection's state needs to know now.
    """
    parser = SSEParser()
    parser.last_event_id = last_event_id
    failures = 0
    while True:
        headers = {"Last-Event-ID": parser.last_event_id} if parser.last_event_id else {}
        try:
            resp = await session.sse_connect(path, query, headers)
        except BackendClientError as e:
            failures += 1
            if failures >= max_failures:
                raise
            if on_drop is not None:
                on_drop(e)
        else:
            failures = 0
            if on_connect is not None:
                on_connect()
            dropped: BaseException = BackendStreamBroken(f"event stream {path} ended")
            try:
                async for chunk in resp.content.iter_any():
                    for message in parser.feed(chunk):
                        yield message
            except (aiohttp.ClientError, ConnectionError) as e:
                log.info("event stream %s dropped (%s); reconnecting", path, e)
                dropped = e
            finally:
                resp.release()
                parser.end_of_stream()
            if on_drop is not None:
                on_drop(dropped)
        delay = parser.retry / 1000 if parser.retry is not None else default_retry
        await asyncio.sleep(delay)


def _event_data(raw: str) -> SessionEventData:
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        return SessionEventData()
    return converter.structure(payload if isinstance(payload, dict) else {}, SessionEventData)


def session_event(message: SSEMessage) -> SessionEvent:
    return SessionEvent(message.event, _event_data(message.data), message.id, message.data)


def _events_request(kernel: Kernel, scope: str) -> tuple[str, dict[str, str]]:
    """Path and query as the official client sends them for each version."""
    version = kernel.session.api_version
    owner = {"owner_access_key": kernel.owner_access_key} if kernel.owner_access_key else {}
    if version.major <= 4:
        return "/stream/kernel/_/events", {"sessionId": kernel.kernel_id, **owner}
    if version.major == 5:
        return "/events/session", {"name": kernel.kernel_id, **owner}
    if kernel.session_id:
        return "/events/session", {"sessionId": kernel.session_id, "scope": scope}
    return "/events/session", {"sessionName": kernel.kernel_id, **owner, "scope": scope}


async def session_events(
    kernel: Kernel,
    *,
    scope: str = "*",
    default_retry: float = DEFAULT_RETRY,
    on_connect: Callable[[], None] | None = None,
    on_drop: Callable[[BaseException], None] | None = None,
) -> AsyncGenerator[SessionEvent, None]:
    """Typed lifecycle events of ``kernel`` (``kernel_*``/``session_*`` names as sent)."""
    path, query = _events_request(kernel, scope)
    messages = sse_messages(
        kernel.session,
        path,
        query,
        default_retry=default_retry,
        on_connect=on_connect,
        on_drop=on_drop,
    )
    # aclosing: closing this generator must release the connection now, not when the
    # inner one is collected.
    async with aclosing(messages):
        async for message in messages:
            yield session_event(message)


class EventStream:
    """A session's lifecycle events: iterate them (reconnecting after drops); ``close``.

    The connection is made on the first iteration; ``on_connect`` (given when opening)
    tells when events can no longer be missed.
    """

    def __init__(self, events: AsyncGenerator[SessionEvent, None]) -> None:
        self._events = events

    def __aiter__(self) -> AsyncIterator[SessionEvent]:
        return self._events

    async def close(self) -> None:
        """Close the connection; from the task that iterates, or once it stopped."""
        await self._events.aclose()


async def open_session_events(
    kernel: Kernel,
    *,
    scope: str = "*",
    on_connect: Callable[[], None] | None = None,
    on_drop: Callable[[BaseException], None] | None = None,
) -> EventStream:
    return EventStream(session_events(kernel, scope=scope, on_connect=on_connect, on_drop=on_drop))
