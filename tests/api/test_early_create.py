"""The session's create sent before `GET /` has answered (`APISession.open(wait_for_version=
False)`): in our newest version at once, and again in the negotiated one where a manager
refuses that (protocol doc §1.2: "Unsupported API version", or no /session route on v4)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from bai_bridge.api import APIConfig, APISession, BackendAPIError
from bai_bridge.api.versioning import CLIENT_API_VERSION

TinyServer = Callable[[web.Application], Awaitable[APIConfig]]
WAIT = 10.0
SESSION_ID = "6b1e6d2e-8a62-4c1e-9a55-3f2d1c0e9b11"


def manager(version: str, seen: list[tuple[str, str]], hello_after_create: bool) -> web.Application:
    """A manager of ``version`` that takes only that version; with ``hello_after_create`` its
    `GET /` answers only once a create has arrived."""
    created = asyncio.Event()

    async def hello(_: web.Request) -> web.Response:
        if hello_after_create:
            await created.wait()
        return web.json_response({"version": version, "manager": "x"})

    async def create(request: web.Request) -> web.Response:
        said = request.headers["X-BackendAI-Version"]
        seen.append((request.path, said))
        created.set()
        v4 = version.startswith("v4.")
        if said != version:  # the check comes before routing (protocol doc §1.2)
            problem = {"type": "https://api.backend.ai/probs/generic-bad-request",
                       "title": "Bad request.", "msg": "Unsupported API version."}  # fmt: skip
            return web.json_response(problem, status=400)
        if v4 != (request.path == "/kernel/create"):
            return web.json_response({"title": "Not found"}, status=404)
        body = await request.json()
        name = body["clientSessionToken" if v4 else "name"]
        answer = {"kernelId": name} if v4 else {"sessionId": SESSION_ID, "sessionName": name}
        return web.json_response({**answer, "status": "RUNNING", "created": True}, status=201)

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/session", create)
    app.router.add_post("/kernel/create", create)
    return app


async def test_the_create_does_not_wait_for_the_version(tiny_server: TinyServer) -> None:
    seen: list[tuple[str, str]] = []
    config = await tiny_server(manager(str(CLIENT_API_VERSION), seen, hello_after_create=True))
    api = APISession(config)
    await api.open(wait_for_version=False)
    try:
        async with asyncio.timeout(WAIT):  # a create waiting for `GET /` would never be sent
            kernel = await api.Kernel.get_or_create("python", client_token="early")
            assert await api.negotiated() == CLIENT_API_VERSION
    finally:
        await api.close()
    assert seen == [("/session", str(CLIENT_API_VERSION))]
    assert kernel.session_id == SESSION_ID


@pytest.mark.parametrize(
    ("version", "path"), [("v8.20240915", "/session"), ("v4.20190615", "/kernel/create")]
)
async def test_a_manager_refusing_our_version_gets_the_create_again_in_its_own(
    tiny_server: TinyServer, version: str, path: str
) -> None:
    seen: list[tuple[str, str]] = []
    config = await tiny_server(manager(version, seen, hello_after_create=False))
    api = APISession(config)
    await api.open(wait_for_version=False)
    try:
        async with asyncio.timeout(WAIT):
            kernel = await api.Kernel.get_or_create("python", client_token="refused")
    finally:
        await api.close()
    assert seen == [("/session", str(CLIENT_API_VERSION)), (path, version)]
    assert kernel.name == "refused"
    assert str(api.api_version) == version


async def test_a_refusal_in_the_version_the_manager_speaks_is_not_sent_again(
    tiny_server: TinyServer,
) -> None:
    creates: list[str] = []

    async def create(request: web.Request) -> web.Response:
        creates.append(request.headers["X-BackendAI-Version"])
        problem = {"type": "https://api.backend.ai/probs/image-not-found", "title": "Unknown image"}
        return web.json_response(problem, status=404)

    async def hello(_: web.Request) -> web.Response:
        return web.json_response({"version": str(CLIENT_API_VERSION), "manager": "x"})

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/session", create)
    api = APISession(await tiny_server(app))
    await api.open(wait_for_version=False)
    try:
        with pytest.raises(BackendAPIError) as refused:
            await api.Kernel.get_or_create("no-such-image", client_token="refused")
    finally:
        await api.close()
    assert refused.value.status == 404
    assert creates == [str(CLIENT_API_VERSION)]
