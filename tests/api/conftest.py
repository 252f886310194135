"""Fixtures of the client tests: the embedded server with a request recorder, and small
aiohttp servers of our own for what the embedded server cannot be asked to do (drop an event
stream, send a hostile archive), each one verifying every request's signature the way a
manager does (protocol doc §2.2)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from aiohttp import web

from bai_bridge.api.auth import generate_signature
from bai_bridge.api.config import APIConfig

ACCESS_KEY = "AKTESTCLIENTKEY00000"
SECRET_KEY = "client-test-secret-key"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def verify_signature(request: web.Request) -> None:
    """Recompute the signature from the raw request; raise 401 when it does not match."""
    auth = request.headers.get("Authorization", "")
    credential = auth.partition("credential=")[2]
    access_key, _, signature = credential.partition(":")
    date_header = request.headers["Date"]
    content_type = request.headers.get("Content-Type", "application/octet-stream")
    expected = generate_signature(
        method=request.method,
        path=request.raw_path,
        date_header=date_header,
        sign_date=datetime.fromisoformat(date_header).date(),
        host=request.headers["Host"],
        content_type=content_type.split(";")[0].strip(),
        version=request.headers["X-BackendAI-Version"],
        secret_key=SECRET_KEY,
    )
    if access_key != ACCESS_KEY or signature != expected:
        raise web.HTTPUnauthorized(text="signature mismatch")


@web.middleware
async def signature_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path != "/":
        verify_signature(request)
    return await handler(request)


from api_support import Embedded, Recorder  # noqa: E402  (tests/api is on sys.path)


def hello_handler(version: str, manager: str) -> Handler:
    async def hello(_: web.Request) -> web.Response:
        return web.json_response({"version": version, "manager": manager})

    return hello


TinyServer = Callable[[web.Application], Awaitable[APIConfig]]


@pytest.fixture
async def tiny_server() -> AsyncIterator[TinyServer]:
    """Start an app on 127.0.0.1:0 and return a client config for it (stopped at teardown).

    The app gets the signature check; add routes before passing it in. ``GET /`` answers
    v8.20240915 / 24.09.0 unless the app routes it itself.
    """
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> APIConfig:
        app.middlewares.append(signature_middleware)
        if not any(r.resource and r.resource.canonical == "/" for r in app.router.routes()):
            app.router.add_get("/", hello_handler("v8.20240915", "24.09.0"))
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return APIConfig(
            endpoint=f"http://127.0.0.1:{port}",
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            env={},
        )

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[Embedded]:
    """The embedded session server in-process on 127.0.0.1:0 (real kernels, shell, PTY).

    It keeps the real manager's file limits (20 files under 1 MiB up, 5 paths of 1 MiB down).
    """
    from bai_bridge.local.serve import start_server
    from serverkit import random_config

    recorder = Recorder()
    config = random_config(tmp_path / "server")
    server = await start_server(config, extra_middlewares=(recorder.middleware,))
    try:
        client = APIConfig(
            endpoint=server.endpoint,
            access_key=config.access_key,
            secret_key=config.secret_key,
            env={},
        )
        yield Embedded(client, recorder, config.data_dir)
    finally:
        await server.close()
