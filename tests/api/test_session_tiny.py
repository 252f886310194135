"""APISession behaviour that needs a server answering like a particular real manager:
version negotiation, endpoint rotation, path prefixes, the download method by manager
release, and completion on managers that do not complete. Each server checks signatures."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable

import attrs
import pytest
from aiohttp import web

from bai_bridge.api import APIConfig, APISession, BackendClientError
from bai_bridge.api import session as session_module
from bai_bridge.api.versioning import ApiVersion

TinyServer = Callable[[web.Application], Awaitable[APIConfig]]


def app_with(version: str, manager: str) -> tuple[web.Application, list[web.Request]]:
    seen: list[web.Request] = []

    async def hello(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"version": version, "manager": manager})

    async def anything(request: web.Request) -> web.Response:
        seen.append(request)
        await request.read()
        return web.json_response({"result": {"logs": "ok"}})

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_route("*", "/{tail:.*}", anything)
    return app, seen


@pytest.mark.parametrize(
    ("server", "pin", "expected", "prefix"),
    [
        ("v10.20270101", None, ApiVersion(9, "20250722"), "/session"),
        ("v9.20250722", None, ApiVersion(9, "20250722"), "/session"),
        ("v8.20240915", None, ApiVersion(8, "20240915"), "/session"),
        ("v5.20191215", None, ApiVersion(5, "20191215"), "/session"),
        ("v4.20190615", None, ApiVersion(4, "20190615"), "/kernel"),
        ("v8.20240915", "v4.20190615", ApiVersion(4, "20190615"), "/kernel"),
    ],
)
async def test_negotiation_takes_the_lower_version(
    tiny_server: TinyServer, server: str, pin: str | None, expected: ApiVersion, prefix: str
) -> None:
    app, seen = app_with(server, "x")
    config = attrs.evolve(await tiny_server(app), api_version=pin)
    async with APISession(config) as api:
        assert api.api_version == expected
        await api.Kernel("some-session").get_logs()
    hello, logs = seen
    assert "Authorization" not in hello.headers
    assert "X-BackendAI-Version" not in hello.headers
    assert logs.path == f"{prefix}/some-session/logs"
    assert logs.headers["X-BackendAI-Version"] == str(expected)
    assert logs.headers["Content-Type"] == "text/plain"


async def test_endpoint_path_prefix_is_kept_and_signed(tiny_server: TinyServer) -> None:
    inner, seen = app_with("v8.20240915", "24.09.0")
    app = web.Application()
    app.add_subapp("/prefix/", inner)
    config = await tiny_server(app)
    config = attrs.evolve(config, endpoint=f"{config.endpoint}/prefix")
    async with APISession(config) as api:
        await api.Kernel("s-one").get_logs()
    assert seen[-1].raw_path == "/prefix/session/s-one/logs"  # signature checked by the server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_rotates_to_the_next_endpoint_on_connection_errors(tiny_server: TinyServer) -> None:
    app, seen = app_with("v8.20240915", "24.09.0")
    live = await tiny_server(app)
    dead = f"http://127.0.0.1:{closed_port()}"
    config = attrs.evolve(live, endpoint=f"{dead},{live.endpoint}")
    async with APISession(config) as api:
        assert api.endpoint == live.endpoint
        assert api.api_version == ApiVersion(8, "20240915")
        await api.Kernel("rotated").get_logs()
    assert len(seen) == 2


async def test_unreachable_everywhere_is_a_client_error_from_the_cause() -> None:
    ports = [closed_port(), closed_port()]
    config = APIConfig(
        endpoint=",".join(f"http://127.0.0.1:{p}" for p in ports),
        access_key="AK",
        secret_key="S",
        env={},
    )
    async with APISession(config) as api:
        assert api.server_info is None  # negotiation fell back to our version
        with pytest.raises(BackendClientError) as error:
            await api.Kernel("nowhere").get_info()
    assert isinstance(error.value.__cause__, OSError)


@pytest.mark.parametrize(
    ("manager", "method"),
    [("23.09.0", "GET"), ("24.09.0", "POST"), ("25.6.1", "POST"), ("26.8.1", "POST")],
)
async def test_download_method_follows_the_manager_release(
    tiny_server: TinyServer, manager: str, method: str
) -> None:
    app, _ = app_with("v8.20240915", manager)
    async with APISession(await tiny_server(app)) as api:
        assert api.download_method == method


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"type": "https://api.backend.ai/probs/internal-server-error", "title": "x"}),
        (200, {"result": None}),
        # 26.x: the Python runner's complete() is a stub returning None.
        (200, {"result": {"status": "finished", "error": None, "suggestions": None}}),
    ],
)
async def test_complete_on_managers_that_do_not_complete(
    tiny_server: TinyServer, status: int, body: dict[str, object]
) -> None:
    received: list[dict[str, object]] = []

    async def complete(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=status, text=json.dumps(body), content_type="application/json")

    app = web.Application()
    app.router.add_post("/session/old-manager/complete", complete)
    async with APISession(await tiny_server(app)) as api:
        kernel = api.Kernel("old-manager")
        assert kernel.completion_supported is None
        assert await kernel.complete("os.pa", {"row": 0, "col": 5, "line": "os.pa"}) == []
        assert kernel.completion_supported is False
    assert received == [
        {"code": "os.pa", "options": {"row": 0, "col": 5, "line": "os.pa", "post": ""}}
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"result": {"status": "finished", "error": None, "suggestions": ["os.path"]}},  # 26.x
        {"result": {"status": "finished", "completions": ["os.path"]}},  # runners before 25.10
        {"result": ["os.path"]},  # the API docs
    ],
)
async def test_complete_reads_every_answer_shape(
    tiny_server: TinyServer, body: dict[str, object]
) -> None:
    async def complete(request: web.Request) -> web.Response:
        return web.json_response(body)

    app = web.Application()
    app.router.add_post("/session/some-session/complete", complete)
    async with APISession(await tiny_server(app)) as api:
        kernel = api.Kernel("some-session")
        assert await kernel.complete("os.pa", {"row": 0, "col": 5, "line": "os.pa"}) == ["os.path"]
        assert kernel.completion_supported is True


def peer_port(request: web.Request) -> int:
    """The client's port: which of its connections a request came on."""
    assert request.transport is not None
    port: int = request.transport.get_extra_info("peername")[1]
    return port


async def test_an_event_stream_does_not_take_the_kept_alive_connection(
    tiny_server: TinyServer,
) -> None:
    ports: dict[str, list[int]] = {"hello": [], "events": [], "logs": []}
    opened = asyncio.Event()

    async def hello(request: web.Request) -> web.Response:
        ports["hello"].append(peer_port(request))
        return web.json_response({"version": "v8.20240915", "manager": "24.09.0"})

    async def events(request: web.Request) -> web.StreamResponse:
        ports["events"].append(peer_port(request))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b": ping\n\n")
        opened.set()
        await asyncio.Event().wait()  # open until the client leaves
        return resp

    async def logs(request: web.Request) -> web.Response:
        ports["logs"].append(peer_port(request))
        return web.json_response({"result": {"logs": "ok"}})

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/events/session", events)
    app.router.add_get("/session/{name}/logs", logs)
    config = await tiny_server(app)
    async with APISession(config) as api:
        stream = await api.sse_connect("/events/session")
        try:
            await opened.wait()
            await api.Kernel("some-session").get_logs()
        finally:
            stream.release()
    # the request after the stream went on the connection the negotiation had opened
    assert ports["logs"] == ports["hello"]
    assert ports["events"] != ports["hello"]


async def test_keep_warm_touches_the_kept_alive_connection_while_idle(
    tiny_server: TinyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "KEEP_WARM_EVERY", 0.05)
    ports: list[int] = []
    touched = asyncio.Condition()

    async def hello(request: web.Request) -> web.Response:
        async with touched:
            ports.append(peer_port(request))
            touched.notify_all()
        return web.json_response({"version": "v8.20240915", "manager": "24.09.0"})

    app = web.Application()
    app.router.add_get("/", hello)
    config = await tiny_server(app)
    async with APISession(config) as api:
        api.keep_warm()
        async with asyncio.timeout(10), touched:
            await touched.wait_for(lambda: len(ports) >= 3)  # the negotiation + 2 keep-warms
    assert len(set(ports)) == 1  # all on the one kept-alive connection


async def test_a_keep_warm_request_that_gets_no_answer_is_told(
    tiny_server: TinyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server gone while nothing else asks: the keep-warm request is the first to know."""
    monkeypatch.setattr(session_module, "KEEP_WARM_EVERY", 0.05)
    answered = asyncio.Event()
    gone = False

    async def hello(request: web.Request) -> web.Response:
        if gone:  # drop the connection without an answer
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        answered.set()
        return web.json_response({"version": "v8.20240915", "manager": "24.09.0"})

    app = web.Application()
    app.router.add_get("/", hello)
    config = await tiny_server(app)
    failures: asyncio.Queue[BackendClientError] = asyncio.Queue()
    async with APISession(config) as api:
        answered.clear()  # the negotiation's
        api.keep_warm(failures.put_nowait)
        async with asyncio.timeout(10):
            await answered.wait()
            assert failures.empty()  # answered: nothing told
            gone = True
            assert isinstance(await failures.get(), BackendClientError)
