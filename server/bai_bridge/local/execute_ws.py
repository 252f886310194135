"""The execute WebSocket (protocol doc §5.3): one run per connection, 0.2 s windows."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from bai_bridge.local import payloads
from bai_bridge.local.context import api_version, find_session, server
from bai_bridge.local.errors import InvalidParams, SessionError
from bai_bridge.local.json_text import parse_json
from bai_bridge.local.runs import Run
from bai_bridge.local.session import Session

log = logging.getLogger(__name__)


async def _read_frames(ws: web.WebSocketResponse, inbox: asyncio.Queue[str | None]) -> None:
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                inbox.put_nowait(msg.data)
    finally:
        inbox.put_nowait(None)


def parse_start(text: str, request: web.Request) -> tuple[str, payloads.BatchOptions | None]:
    params: Any = parse_json(text)
    body = payloads.require_object(params)
    mode = body.get("mode", "query")
    code = body.get("code") or ""
    if mode not in ("query", "batch") or not isinstance(code, str):
        raise InvalidParams("mode must be query or batch and code a string")
    if mode == "batch":
        options = body.get("options") or {}
        return code, payloads.parse_batch_options(options, api_version(request))
    return code, None


async def stream_execute(request: web.Request) -> web.WebSocketResponse:
    session = find_session(request)
    # Code as large as an HTTP execute may carry (aiohttp's default is 4 MiB).
    ws = web.WebSocketResponse(autoping=True, heartbeat=30.0, max_msg_size=request.client_max_size)
    await ws.prepare(request)
    inbox: asyncio.Queue[str | None] = asyncio.Queue()
    reader = asyncio.create_task(_read_frames(ws, inbox))
    try:
        await _serve_run(ws, session, inbox, request)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await ws.close()
    return ws


async def _serve_run(
    ws: web.WebSocketResponse,
    session: Session,
    inbox: asyncio.Queue[str | None],
    request: web.Request,
) -> None:
    first = await inbox.get()
    if first is None:
        return
    try:
        code, batch = parse_start(first, request)
        run = await session.start_run(secrets.token_hex(8), code, batch)
    except InvalidParams as exc:
        await ws.send_json({"status": "error", "msg": f"Invalid API parameters: {exc.msg}"})
        return
    except SessionError as exc:
        await ws.send_json({"status": "error", "msg": f"BackendError: {exc}"})
        return
    if not await _relay(ws, session, run, inbox, server(request).config.ws_flush_window):
        # The client went away mid-run: stop the code it started (§5.3 step 4).
        session.forget_run(run)
        if not run.ended:  # once ended, the kernel may be running someone else's code
            await session.interrupt()


async def _relay(
    ws: web.WebSocketResponse,
    session: Session,
    run: Run,
    inbox: asyncio.Queue[str | None],
    flush: float,
) -> bool:
    """Send results until the run finishes; False when the client disconnected first."""
    while True:
        result = await session.next_result(run, flush)
        if ws.closed:
            return False
        try:
            await ws.send_json(result.to_wire(with_run_id=False))
        except ConnectionResetError:
            return False
        if result.status == "finished":
            return True
        if result.status == "waiting-input":
            text = await inbox.get()
            if text is None:
                return False
            session.send_input(run, text)
        elif inbox.qsize() and inbox.get_nowait() is None:
            return False
