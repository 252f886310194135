"""The session event stream (§5.1) as Server-Sent Events.

One loop per client writes the frames of the events it matches, a ``: ping`` comment every
`ping_interval`, and checks in between that the client is still there, so a vanished
client or a closed bus (server shutdown) ends the handler within about a second.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiohttp import web

from bai_bridge.local.events_bus import EventBus, EventSubscription
from bai_bridge.local.events_types import SessionEvent
from bai_bridge.local.events_wire import PING_FRAME, sse_frame

log = logging.getLogger(__name__)

_LIVENESS_CHECK = 1.0
# A client that accepts nothing for this long is cut off (as aiohttp-sse's send timeout).
_SEND_TIMEOUT = 120.0


async def serve_events(
    request: web.Request,
    bus: EventBus,
    *,
    match: Callable[[SessionEvent], bool],
    api_major: int,
    ping_interval: float = 15.0,
) -> web.StreamResponse:
    """Stream the events `match` accepts, from `Last-Event-ID` on if the client sent one."""
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    # Subscribed before the headers go out: a client that has them misses nothing.
    subscription = bus.subscribe(after=_last_event_id(request))
    try:
        await response.prepare(request)
        await _stream(request, response, subscription, match, api_major, ping_interval)
        await response.write_eof()  # fails too when the client left right after the last event
    except (ConnectionResetError, TimeoutError):
        log.info("event stream: the client went away")
    finally:
        subscription.close()
    return response


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    subscription: EventSubscription,
    match: Callable[[SessionEvent], bool],
    api_major: int,
    ping_interval: float,
) -> None:
    loop = asyncio.get_running_loop()
    next_ping = loop.time() + ping_interval
    while _connected(request):
        wait = min(next_ping - loop.time(), _LIVENESS_CHECK)
        try:
            async with asyncio.timeout(max(wait, 0)):
                item = await subscription.next()
        except TimeoutError:
            if loop.time() >= next_ping:
                await _send(response, PING_FRAME)
                next_ping = loop.time() + ping_interval
            continue
        if item is None:
            return  # the bus was closed
        if match(item.event) and (frame := sse_frame(item, api_major)) is not None:
            await _send(response, frame)


async def _send(response: web.StreamResponse, frame: bytes) -> None:
    async with asyncio.timeout(_SEND_TIMEOUT):
        await response.write(frame)


def _connected(request: web.Request) -> bool:
    transport = request.transport
    return transport is not None and not transport.is_closing()


def _last_event_id(request: web.Request) -> int | None:
    value = request.headers.get("Last-Event-ID", "").strip()
    return int(value) if value.isascii() and value.isdigit() else None
