"""Session events: the bus, the wire shape per API generation, and the SSE stream (§5.1)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bai_bridge.local.events import EventBus, SessionEvent, serve_events, sse_frame

SID = uuid.UUID("12345678-1234-5678-1234-567812345678")
OTHER = uuid.UUID("87654321-4321-8765-4321-876543210987")
AK = "AKIAIOSFODNN7EXAMPLE"
TIMEOUT = 10.0


def event(name: str, session: str = "s1", sid: uuid.UUID = SID, **kw: Any) -> SessionEvent:
    return SessionEvent(name, session, sid, AK, **kw)


# --- the wire -------------------------------------------------------------------------------


def test_frames_are_byte_exact_for_each_generation() -> None:
    bus = EventBus()
    item = bus.publish(event("session_success", reason="task-success", exit_code=0))
    assert sse_frame(item, 8) == (
        b"id: 1\r\nevent: session_success\r\n"
        b'data: {"reason": "task-success", "sessionName": "s1", "ownerAccessKey": '
        b'"AKIAIOSFODNN7EXAMPLE", "sessionId": "12345678-1234-5678-1234-567812345678", '
        b'"clusterRole": "main", "clusterIdx": 0, "exitCode": 0}\r\n\r\n'
    )
    assert sse_frame(item, 5) == (
        b"id: 1\r\nevent: kernel_success\r\n"
        b'data: {"sessionName": "s1", "ownerAccessKey": "AKIAIOSFODNN7EXAMPLE", '
        b'"reason": "task-success"}\r\n\r\n'
    )
    assert sse_frame(item, 4) == (
        b"id: 1\r\nevent: kernel_success\r\n"
        b'data: {"sessionId": "s1", "ownerAccessKey": "AKIAIOSFODNN7EXAMPLE", '
        b'"reason": "task-success"}\r\n\r\n'
    )


def test_modern_data_carries_kernel_id_when_known() -> None:
    item = EventBus().publish(event("kernel_started", kernel_id="k-1"))
    frame = sse_frame(item, 6)
    assert frame is not None
    assert b'"sessionId": "12345678-1234-5678-1234-567812345678", "kernelId": "k-1", ' in frame
    assert b'"exitCode": null}' in frame


def legacy_names(names: list[str], api_major: int) -> list[str]:
    bus = EventBus()
    frames = [sse_frame(bus.publish(event(n)), api_major) for n in names]
    return [f.split(b"\r\n")[1].decode().removeprefix("event: ") for f in frames if f]


def test_legacy_clients_get_kernel_names_once() -> None:
    lifecycle = [
        "session_enqueued",
        "session_scheduled",
        "kernel_preparing",
        "kernel_started",
        "session_started",
        "kernel_terminating",
        "kernel_terminated",
        "session_terminated",
    ]
    expected = [
        "kernel_enqueued",
        "kernel_preparing",
        "kernel_started",
        "kernel_terminating",
        "kernel_terminated",
    ]
    assert legacy_names(lifecycle, 4) == expected
    assert legacy_names(lifecycle, 5) == expected
    assert legacy_names(lifecycle, 7) == lifecycle


def test_legacy_mapping_of_session_only_events() -> None:
    assert legacy_names(["session_enqueued", "session_cancelled"], 4) == [
        "kernel_enqueued",
        "kernel_cancelled",
    ]
    assert legacy_names(["kernel_started", "session_failure"], 5) == [
        "kernel_started",
        "kernel_failure",
    ]


def test_twins_of_different_sessions_are_both_kept() -> None:
    bus = EventBus()
    first = bus.publish(event("kernel_started"))
    second = bus.publish(event("session_started", "s2", OTHER))
    assert sse_frame(first, 4) is not None
    assert sse_frame(second, 4) is not None


# --- the bus --------------------------------------------------------------------------------


async def test_subscribers_get_events_after_they_subscribed() -> None:
    bus = EventBus()
    bus.publish(event("session_enqueued"))
    early = bus.subscribe()
    bus.publish(event("session_scheduled"))
    late = bus.subscribe()
    bus.publish(event("kernel_preparing"))
    early_items = [await early.next(), await early.next()]
    assert [i.id for i in early_items if i] == [2, 3]
    late_item = await late.next()
    assert late_item is not None
    assert late_item.id == 3


async def test_waiting_subscriber_wakes_on_publish() -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    waiter = asyncio.create_task(subscription.next())
    await asyncio.sleep(0)
    assert not waiter.done()
    bus.publish(event("session_enqueued"))
    item = await asyncio.wait_for(waiter, TIMEOUT)
    assert item is not None
    assert item.event.name == "session_enqueued"


async def test_a_slow_subscriber_never_blocks_publishers() -> None:
    bus = EventBus(history_size=100)
    stalled = bus.subscribe()
    started = time.perf_counter()
    for _ in range(10_000):
        bus.publish(event("kernel_preparing"))
    assert time.perf_counter() - started < 1.0
    item = await stalled.next()
    assert item is not None
    assert item.id == 9_901  # it skips what the bounded history dropped


async def test_replay_from_last_event_id() -> None:
    bus = EventBus()
    for name in ["session_enqueued", "session_scheduled", "kernel_preparing"]:
        bus.publish(event(name))
    resumed = bus.subscribe(after=1)
    assert [(await resumed.next()).id for _ in range(2)] == [2, 3]  # type: ignore[union-attr]
    foreign = bus.subscribe(after=99)  # another server's id: nothing to replay
    bus.publish(event("kernel_started"))
    item = await foreign.next()
    assert item is not None
    assert item.id == 4


async def test_close_ends_every_subscription() -> None:
    bus = EventBus()
    subscriptions = [bus.subscribe() for _ in range(3)]
    waiters = [asyncio.create_task(s.next()) for s in subscriptions]
    await asyncio.sleep(0)
    bus.close()
    assert await asyncio.wait_for(asyncio.gather(*waiters), TIMEOUT) == [None, None, None]
    assert [i async for i in bus.subscribe()] == []


# --- the SSE stream -------------------------------------------------------------------------


class EventsApp:
    def __init__(self, ping_interval: float = 15.0) -> None:
        self.bus = EventBus()
        self.ping_interval = ping_interval
        self.handler_done = asyncio.Event()

    def build(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/events", self.handler)
        app.on_shutdown.append(self.shutdown)
        return app

    async def handler(self, request: web.Request) -> web.StreamResponse:
        name = request.query.get("name", "*")
        try:
            return await serve_events(
                request,
                self.bus,
                match=lambda e: name in ("*", e.session_name),
                api_major=int(request.query.get("v", "8")),
                ping_interval=self.ping_interval,
            )
        finally:
            self.handler_done.set()

    async def shutdown(self, _: web.Application) -> None:
        self.bus.close()


@pytest.fixture
async def sse() -> AsyncIterator[tuple[TestClient[Any, Any], EventsApp]]:
    events_app = EventsApp(ping_interval=0.3)
    async with TestClient(TestServer(events_app.build(), host="127.0.0.1")) as client:
        yield client, events_app


async def read_exactly(response: aiohttp.ClientResponse, size: int) -> bytes:
    return await asyncio.wait_for(response.content.readexactly(size), TIMEOUT)


async def read_event(response: aiohttp.ClientResponse) -> bytes:
    """The next SSE message, pings skipped."""
    while True:
        lines = []
        while (line := await asyncio.wait_for(response.content.readline(), TIMEOUT)) != b"\r\n":
            assert line.endswith(b"\r\n"), line
            lines.append(line)
        if lines != [b": ping\r\n"]:
            return b"".join(lines) + b"\r\n"


async def test_stream_headers_and_exact_frames(sse: Any) -> None:
    client, app = sse
    response = await client.get("/events", params={"v": "8"})
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    item = app.bus.publish(event("session_started"))
    assert await read_event(response) == sse_frame(item, 8)
    response.close()


async def test_stream_filters_and_maps_for_v4(sse: Any) -> None:
    client, app = sse
    response = await client.get("/events", params={"v": "4", "name": "s1"})
    app.bus.publish(event("kernel_started", "other", OTHER))
    app.bus.publish(event("kernel_started"))
    twin = app.bus.publish(event("session_started"))
    last = app.bus.publish(event("session_terminated", reason="user-requested"))
    first = await read_event(response)
    assert first.startswith(b"id: 2\r\nevent: kernel_started\r\n")
    assert b'"sessionId": "s1"' in first
    second = await read_event(response)
    assert second == sse_frame(last, 4)
    assert second.startswith(b"id: 4\r\nevent: kernel_terminated\r\n")
    assert sse_frame(twin, 4) is None
    response.close()


async def test_stream_resumes_from_last_event_id(sse: Any) -> None:
    client, app = sse
    for name in ["session_enqueued", "session_scheduled", "kernel_preparing"]:
        app.bus.publish(event(name))
    response = await client.get("/events", headers={"Last-Event-ID": "1"})
    assert (await read_event(response)).startswith(b"id: 2\r\nevent: session_scheduled\r\n")
    assert (await read_event(response)).startswith(b"id: 3\r\nevent: kernel_preparing\r\n")
    response.close()


async def test_stream_pings(sse: Any) -> None:
    client, _ = sse
    response = await client.get("/events")
    started = time.monotonic()
    assert await read_exactly(response, len(b": ping\r\n\r\n")) == b": ping\r\n\r\n"
    assert await read_exactly(response, len(b": ping\r\n\r\n")) == b": ping\r\n\r\n"
    assert 0.5 <= time.monotonic() - started < 5
    response.close()


async def test_client_disconnect_ends_the_handler() -> None:
    events_app = EventsApp(ping_interval=60.0)  # no ping write would notice the client
    async with TestClient(TestServer(events_app.build(), host="127.0.0.1")) as client:
        response = await client.get("/events")
        assert response.status == 200
        response.close()
        await asyncio.wait_for(events_app.handler_done.wait(), TIMEOUT)


async def test_closing_the_bus_ends_the_stream(sse: Any) -> None:
    client, app = sse
    response = await client.get("/events")
    app.bus.publish(event("session_enqueued"))
    await read_event(response)
    app.bus.close()
    rest = await asyncio.wait_for(response.content.read(), TIMEOUT)
    assert rest in (b"", b": ping\r\n\r\n")
    await asyncio.wait_for(app.handler_done.wait(), TIMEOUT)


async def test_server_shutdown_does_not_hang_on_open_streams() -> None:
    events_app = EventsApp(ping_interval=60.0)
    server = TestServer(events_app.build(), host="127.0.0.1")
    client = TestClient(server)
    await client.start_server()
    responses = [await client.get("/events") for _ in range(3)]
    assert all(r.status == 200 for r in responses)
    started = time.monotonic()
    await client.close()
    assert time.monotonic() - started < 5
    assert events_app.bus.closed
