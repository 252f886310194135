"""The execute WebSocket (protocol doc §5.3): one run per connection, 0.2 s windows.

A client that closes the socket mid-run has its run interrupted, as a manager does (§5.3
step 4). On the embedded profile a connection that merely dropped (no close frame: the
network went) leaves the run going for `RESUME_GRACE` instead: its frames carry the
``runId``, so the client continues it over HTTP (``mode: "continue"``) and loses nothing;
the window that was on its way when the connection went is kept for it. A manager sends no
run id over the socket and interrupts on any close, so a client of one can only say where
the output stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from bai_bridge.local import payloads
from bai_bridge.local.config import ServerProfile
from bai_bridge.local.context import api_version, find_session, server
from bai_bridge.local.errors import InvalidParams, SessionError
from bai_bridge.local.json_text import parse_json
from bai_bridge.local.runs import Run
from bai_bridge.local.session import Session

log = logging.getLogger(__name__)

# How long a run whose socket dropped waits for its client to continue it over HTTP before
# it is interrupted as a closed one would be (embedded profile).
RESUME_GRACE = 60.0


class _Inbox:
    """The client's text frames, None once it is gone; ``dropped``: it went without a close
    frame (the connection was lost, not closed)."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[str | None] = asyncio.Queue()
        self.dropped = False

    async def read(self, ws: web.WebSocketResponse) -> None:
        try:
            while True:
                msg = await ws.receive()
                if msg.type == WSMsgType.TEXT:
                    self.frames.put_nowait(msg.data)
                elif msg.type in (WSMsgType.CLOSED, WSMsgType.ERROR):
                    self.dropped = True
                    return
                elif msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING):
                    return
        finally:
            self.frames.put_nowait(None)


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
    inbox = _Inbox()
    reader = asyncio.create_task(inbox.read(ws))
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
    inbox: _Inbox,
    request: web.Request,
) -> None:
    first = await inbox.frames.get()
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
    config = server(request).config
    resumable = config.profile is ServerProfile.EMBEDDED
    ending = await _relay(ws, session, run, inbox, config.ws_flush_window, resumable)
    if ending in ("finished", "taken over"):
        return
    if resumable and inbox.dropped and not run.ended:
        session.run_in_background(_interrupt_unless_continued(session, run, RESUME_GRACE))
    else:  # the client closed it mid-run: stop the code it started (§5.3 step 4)
        await _stop(session, run)


async def _relay(
    ws: web.WebSocketResponse,
    session: Session,
    run: Run,
    inbox: _Inbox,
    flush: float,
    with_run_id: bool,
) -> str:
    """Send results until the run finishes ("finished"), the client disconnects first
    ("gone"; a window it did not get is kept for the run's next reader) or continues the
    run over HTTP after a drop this side has not noticed yet ("taken over")."""
    me = run.take_over()
    while True:
        result = await session.next_result(run, flush, me)
        if result is None:
            return "taken over"
        try:
            if ws.closed:
                raise ConnectionResetError
            await ws.send_json(result.to_wire(with_run_id=with_run_id))
        except ConnectionResetError:
            session.unread(run, result)
            return "gone"
        if result.status == "finished":
            return "finished"
        if result.status == "waiting-input":
            text = await inbox.frames.get()
            if text is None:
                return "gone"
            session.send_input(run, text)
        elif inbox.frames.qsize() and inbox.frames.get_nowait() is None:
            return "gone"


async def _interrupt_unless_continued(session: Session, run: Run, grace: float) -> None:
    """Stop ``run`` once nobody has read from it for ``grace`` seconds."""
    reads = -1
    while not run.ended and run.reads != reads:
        reads = run.reads
        await asyncio.sleep(grace)
    if not run.ended:
        log.info("run %s: not continued within %.0f s of its socket's drop", run.run_id, grace)
        await _stop(session, run)


async def _stop(session: Session, run: Run) -> None:
    session.forget_run(run)
    if not run.ended:  # once ended, the kernel may be running someone else's code
        await session.interrupt()
