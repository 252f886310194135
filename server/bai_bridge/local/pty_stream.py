"""The PTY WebSocket of §5.2, bridged to a real `Terminal`.

Client TEXT frames carry JSON: ``stdin`` (base64 bytes), ``resize``, ``ping``, ``restart``.
Output goes back as ``{"type": "out", "data": <base64>}``: in TEXT frames as managers up to
24.09 send it, or in BINARY frames as 25.6 and later do (API v9 clients, and every client on the
cluster profile). Anything malformed
is logged and ignored, as the official server ignores non-TEXT frames. The socket closes
when the terminal's shell exits; a restart re-attaches it to the new terminal instead.

A viewer that re-attaches after its connection dropped asks for what it missed with
``?since=<bytes of output it has>`` (``-1``: none, only where the output stands): the first
frame is then ``{"type": "out", "data": ..., "replay": {"from": F, "to": T}}``, the bytes from
F (later than ``since`` when older output is no longer kept) up to T, where live output goes
on. A manager keeps no scrollback and sends no such frame (nor does the cluster profile).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from bai_bridge.local.pty_output import TerminalOutput
from bai_bridge.local.pty_terminal import Terminal, TerminalClosed

log = logging.getLogger(__name__)

_MAX_SIZE = 10_000
_HEARTBEAT = 30.0
_INPUT_BACKLOG = 256

TerminalFactory = Callable[[], Awaitable[Terminal]]
Ping = Callable[[], Awaitable[None]]


async def serve_pty(
    request: web.Request,
    terminal: TerminalFactory,
    restart: TerminalFactory,
    ping: Ping,
    *,
    binary_output: bool = False,
    since: int | None = None,
) -> web.WebSocketResponse:
    """Answer the WebSocket handshake and bridge it to the session's terminal until either ends;
    ``binary_output`` sends output in BINARY frames; ``since``: replay the output after it."""
    ws = web.WebSocketResponse(heartbeat=_HEARTBEAT)
    await ws.prepare(request)
    try:
        attached = await terminal()
    except Exception:
        log.exception("pty stream: the session's terminal could not be started")
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"no terminal")
        return ws
    await _PtyBridge(ws, restart, ping, binary_output, since).run(attached)
    return ws


class _PtyBridge:
    """One socket's attachment to a terminal, kept across restarts."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        restart: TerminalFactory,
        ping: Callable[[], Awaitable[None]],
        binary_output: bool,
        since: int | None,
    ) -> None:
        self.ws, self._restart, self._ping = ws, restart, ping
        self._binary = binary_output
        self._since = since  # the first attachment's replay
        self._replays = since is not None  # a restart's new terminal: where its output stands
        self.terminal: Terminal | None = None
        self._output: asyncio.Task[None] | None = None
        self._restarting: asyncio.Task[None] | None = None
        self._size: tuple[int, int] | None = None
        # Input goes through its own task: a shell that does not read its input (a paste
        # into `sleep 100`) must not hold up resize, ping and restart.
        self._input: asyncio.Queue[bytes] = asyncio.Queue(_INPUT_BACKLOG)
        self._writer: asyncio.Task[None] | None = None

    async def run(self, terminal: Terminal) -> None:
        self._attach(terminal)
        self._writer = asyncio.create_task(self._write_input(), name="pty-in")
        try:
            async for message in self.ws:
                if message.type == WSMsgType.TEXT:
                    await self._handle_safely(message.data)
                else:
                    log.info("pty stream: ignoring a %s frame", message.type.name)
        finally:
            await self._stop()

    def _attach(self, terminal: Terminal) -> None:
        if self._output is not None:
            self._output.cancel()
        self.terminal = terminal
        if self._size is not None:  # a new terminal after a restart gets the client's size
            terminal.resize(*self._size)
        # Attach now, not when the task first runs: output from here on is this socket's,
        # and what the scrollback holds is exactly what came before.
        viewer = terminal.attach()
        replay = None if self._since is None else terminal.scrollback.since(self._since)
        self._since = None
        sender = self._send_output(terminal, viewer, replay)
        self._output = asyncio.create_task(sender, name="pty-out")

    async def _send_output(
        self, terminal: Terminal, viewer: TerminalOutput, replay: tuple[int, bytes] | None
    ) -> None:
        try:
            if replay is not None:
                begin, data = replay
                span = {"from": begin, "to": begin + len(data)}
                await self._send_frame({"type": "out", "data": _b64(data), "replay": span})
            while data := await viewer.next():
                await self._send_frame({"type": "out", "data": _b64(data)})
        except ConnectionResetError:
            return  # the client went away; the receiving loop ends too
        except Exception:
            log.exception("pty stream: forwarding terminal output failed")
            await self.ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"output failed")
            return
        finally:
            terminal.detach(viewer)
        if terminal is self.terminal and self._restarting is None:
            await self.ws.close()  # the shell exited

    async def _send_frame(self, frame: dict[str, Any]) -> None:
        text = json.dumps(frame)
        await (self.ws.send_bytes(text.encode()) if self._binary else self.ws.send_str(text))

    async def _handle_safely(self, text: str) -> None:
        try:
            await self._handle(text)
        except Exception:
            log.exception("pty stream: handling a client message failed")

    async def _handle(self, text: str) -> None:
        message = _parse(text)
        if message is None:
            return
        kind = message.get("type")
        if kind == "stdin":
            await self._stdin(message.get("chars"))
        elif kind == "resize":
            self._resize(message.get("rows"), message.get("cols"))
        elif kind == "ping":
            await self._ping()
        elif kind == "restart":
            if self._restarting is None:
                self._drop_input()  # what was typed for the old shell
                self._restarting = asyncio.create_task(self._do_restart(), name="pty-restart")
        else:
            log.info("pty stream: ignoring a message of type %r", kind)

    async def _stdin(self, chars: Any) -> None:
        try:
            data = base64.b64decode(chars, validate=True)
        except (binascii.Error, TypeError, ValueError):
            log.info("pty stream: ignoring stdin that is not base64")
            return
        await self._input.put(data)  # waits while the backlog is full: backpressure

    async def _write_input(self) -> None:
        while True:
            data = await self._input.get()
            if self._restarting is not None:
                # Typed while restarting: it belongs to the new shell.
                await asyncio.shield(self._restarting)
            try:
                if self.terminal is not None:
                    await self.terminal.write(data)
            except TerminalClosed:
                log.info("pty stream: input for a terminal that has exited")
            except Exception:
                log.exception("pty stream: writing to the terminal failed")

    def _resize(self, rows: Any, cols: Any) -> None:
        if not all(isinstance(v, int) and 0 < v <= _MAX_SIZE for v in (rows, cols)):
            log.info("pty stream: ignoring resize to %r x %r", rows, cols)
        elif self.terminal is not None:
            self._size = (rows, cols)
            self.terminal.resize(rows, cols)

    def _drop_input(self) -> None:
        while not self._input.empty():
            self._input.get_nowait()

    async def _do_restart(self) -> None:
        try:
            terminal = await self._restart()
            if self._replays:  # the viewer counts the new terminal's bytes from here
                self._since = -1
            self._attach(terminal)
        except Exception:
            log.exception("pty stream: restarting the terminal failed")
            await self.ws.close(message=b"restart failed")
        finally:
            self._restarting = None

    async def _stop(self) -> None:
        if self._restarting is not None:
            # A restart replaces the session's terminal: let it finish for the next viewer.
            await asyncio.shield(self._restarting)
        for task in (self._writer, self._output):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _parse(text: str) -> dict[str, Any] | None:
    try:
        message = json.loads(text)
    except ValueError:
        log.info("pty stream: ignoring a frame that is not JSON")
        return None
    if not isinstance(message, dict):
        log.info("pty stream: ignoring a JSON frame that is not an object")
        return None
    return message
