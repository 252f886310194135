"""The event stream survives a dropped connection and resumes with Last-Event-ID."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from bai_bridge.api.config import APIConfig
from bai_bridge.api.session import APISession

TinyServer = Callable[[web.Application], Awaitable[APIConfig]]


SESSION_ID = "5b7f4a52-1c2d-4e5f-8a9b-0c1d2e3f4a5b"


def frame(event: str, event_id: str, **data: object) -> bytes:
    payload = json.dumps({"sessionName": "evsess", "sessionId": SESSION_ID, **data})
    return f"id: {event_id}\r\nevent: {event}\r\ndata: {payload}\r\n\r\n".encode()


async def test_reconnects_after_a_drop_with_last_event_id(tiny_server: TinyServer) -> None:
    seen: list[dict[str, str | None]] = []

    async def events(request: web.Request) -> web.StreamResponse:
        seen.append({"last": request.headers.get("Last-Event-ID"), **request.query})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        if len(seen) == 1:
            await resp.write(b": ping\r\n\r\nretry: 20\r\n" + frame("session_started", "1"))
            await resp.write(b"data: {half a message")
            assert request.transport is not None
            request.transport.close()  # drop mid-message
            return resp
        await resp.write(frame("session_terminated", "2", reason="user-requested", exitCode=0))
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/events/session", events)
    config = await tiny_server(app)
    async with APISession(config) as api:
        kernel = api.Kernel("evsess", session_id=SESSION_ID)
        received = []
        connects: list[int] = []
        drops: list[BaseException] = []
        opening = kernel.stream_events(on_connect=lambda: connects.append(1), on_drop=drops.append)
        async with asyncio.timeout(10):
            async with opening as events:
                async for event in events:
                    received.append(event)
                    if len(received) == 2:
                        break
    assert len(connects) == 2
    assert len(drops) == 1  # the drop mid-message was told
    assert [e.name for e in received] == ["session_started", "session_terminated"]
    assert [e.id for e in received] == ["1", "2"]
    assert received[1].data.reason == "user-requested"
    assert received[1].data.exit_code == 0
    assert received[0].data.session_id == SESSION_ID
    assert seen[0] == {"last": None, "sessionId": SESSION_ID, "scope": "*"}
    assert seen[1]["last"] == "1"


async def test_v4_and_v5_event_paths(tiny_server: TinyServer) -> None:
    hits: list[tuple[str, dict[str, str]]] = []

    async def events(request: web.Request) -> web.StreamResponse:
        hits.append((request.path, dict(request.query)))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'event: kernel_started\ndata: {"sessionId": "evsess"}\n\n')
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/stream/kernel/_/events", events)
    app.router.add_get("/events/session", events)
    config = await tiny_server(app)
    for pin, expected in (
        ("v4.20190615", ("/stream/kernel/_/events", {"sessionId": "evsess"})),
        ("v5.20191215", ("/events/session", {"name": "evsess"})),
    ):
        from attrs import evolve

        async with APISession(evolve(config, api_version=pin)) as api:
            kernel = api.Kernel("evsess")
            async with asyncio.timeout(10):
                async with kernel.stream_events() as events:
                    event = await anext(aiter(events))
        assert event.name == "kernel_started"
        assert hits[-1] == expected
