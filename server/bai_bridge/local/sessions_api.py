"""Handlers of the session REST endpoints (protocol doc §3): parse, call the session, render."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from bai_bridge.local import payloads
from bai_bridge.local.config import ServerProfile
from bai_bridge.local.context import (
    api_version,
    find_session,
    owner_key,
    public,
    query_flag,
    read_json,
    server,
)
from bai_bridge.local.errors import NoSuchSession
from bai_bridge.local.render import completion_body, create_body, info_body
from bai_bridge.local.session import Session
from bai_bridge.local.versioning import LATEST_API_VERSION, MANAGER_VERSION

COMPLETE_TIMEOUT = 10.0


@public
async def hello(request: web.Request) -> web.Response:
    return web.json_response({"version": LATEST_API_VERSION, "manager": MANAGER_VERSION})


async def create(request: web.Request) -> web.Response:
    version = api_version(request)
    create_request = payloads.parse_create(await read_json(request), version)
    owner = create_request.owner_access_key or owner_key(request)
    outcome = await server(request).registry.create(create_request, owner)
    status = 201 if outcome.created else 200
    return web.json_response(create_body(outcome, version), status=status)


async def destroy(request: web.Request) -> web.Response:
    session = find_session(request)
    stats = await server(request).registry.destroy(
        session,
        forced=query_flag(request, "forced"),
        reason="force-terminated" if query_flag(request, "forced") else "user-requested",
    )
    if query_flag(request, "recursive"):
        return web.json_response([stats])
    return web.json_response({"stats": stats})


async def restart(request: web.Request) -> web.Response:
    await find_session(request).restart()
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    new_name = payloads.parse_rename(await read_json(request), request.query)
    server(request).registry.rename(find_session(request), new_name)
    return web.Response(status=204)


async def interrupt(request: web.Request) -> web.Response:
    await find_session(request).interrupt()
    return web.Response(status=204)


async def complete(request: web.Request) -> web.Response:
    complete_request = payloads.parse_complete(await read_json(request))
    return web.json_response(await completions(request, complete_request))


async def completions(request: web.Request, body: payloads.CompleteRequest) -> dict[str, Any]:
    session = find_session(request)
    if server(request).config.profile is ServerProfile.CLUSTER:
        # A cluster's Python kernel runner answers at once, with nothing.
        return completion_body(api_version(request), None)
    return completion_body(api_version(request), await kernel_matches(session, body))


async def kernel_matches(session: Session, request: payloads.CompleteRequest) -> list[str]:
    code = request.code
    try:
        return await asyncio.wait_for(
            session.complete(code + request.options.post, len(code)), COMPLETE_TIMEOUT
        )
    except TimeoutError:
        return []


async def get_info(request: web.Request) -> web.Response:
    return web.json_response(info_body(find_session(request)))


async def get_status_history(request: web.Request) -> web.Response:
    """When the session entered each status: ``{"RUNNING": <ISO time>, ...}`` (26.x shape)."""
    return web.json_response(find_session(request).status_history)


async def get_apps(request: web.Request) -> web.Response:
    """The session's service ports (§12): none, as there is no app proxy on one machine."""
    find_session(request)
    return web.json_response([])


async def get_logs(request: web.Request) -> web.Response:
    """A live session's console log, or the tail kept of an ended one's (§3.7)."""
    try:
        logs = find_session(request).logs()
    except NoSuchSession:
        exact = api_version(request).major <= 4
        sid = request.match_info["sid"]
        ended = server(request).registry.ended.find(owner_key(request), sid, exact=exact)
        if ended is None:
            raise
        logs = ended.logs
    return web.json_response({"result": {"logs": logs}})


async def execute(request: web.Request) -> web.Response:
    body = await read_json(request)
    if isinstance(body, dict) and body.get("mode") == "complete":
        return web.json_response(await completions(request, payloads.parse_complete(body)))
    execute_request = payloads.parse_execute(body)
    batch = None
    if execute_request.mode == "batch":
        batch = payloads.parse_batch_options(execute_request.options, api_version(request))
    result = await find_session(request).execute(
        execute_request.mode,
        execute_request.run_id,
        execute_request.code,
        batch,
        server(request).config.http_flush_window,
        client_there=lambda: request.transport is not None and not request.transport.is_closing(),
        silent=silent_query(request, execute_request),
    )
    return web.json_response({"result": result.to_wire()})


def silent_query(request: web.Request, execute_request: payloads.ExecuteRequest) -> bool:
    """A query asking ``options.silent`` (a Backend.AI manager ignores a query's options) runs
    with no history entry and no execution count, on the embedded profile; the cluster
    profile ignores it, as a cluster would."""
    return (
        execute_request.mode == "query"
        and execute_request.options.get("silent") is True
        and server(request).config.profile is ServerProfile.EMBEDDED
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", hello)
    app.router.add_get("", hello)
    for path in ("/kernel/create", "/kernel", "/session/_/create", "/session"):
        app.router.add_post(path, create)
    for prefix in ("/kernel", "/session"):
        base = prefix + "/{sid}"
        app.router.add_delete(base, destroy)
        app.router.add_patch(base, restart)
        app.router.add_get(base, get_info)
        app.router.add_post(base, execute)
        app.router.add_post(base + "/interrupt", interrupt)
        app.router.add_post(base + "/complete", complete)
        app.router.add_get(base + "/logs", get_logs)
        app.router.add_get(f"/stream{base}/apps", get_apps)
    # API v5 on (v4 managers had neither).
    app.router.add_post("/session/{sid}/rename", rename)
    app.router.add_get("/session/{sid}/status-history", get_status_history)
