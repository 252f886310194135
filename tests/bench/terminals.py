"""Two ways to reach a shell's terminal, with one interface: a local pseudo-terminal (the
baseline) and the bridge's PTY WebSocket (protocol doc §5.2), as an editor terminal uses it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from typing import Any

import aiohttp
import ptyprocess

READ_SIZE = 1 << 16
WAIT_TIMEOUT = 60.0


class TerminalBuffer:
    """Everything the terminal printed, and a way to wait for a marker in it."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._grew = asyncio.Event()
        self.closed = False

    def feed(self, chunk: bytes) -> None:
        self.data += chunk
        self._grew.set()

    def close(self) -> None:
        self.closed = True
        self._grew.set()

    async def wait_for(self, marker: bytes, start: int) -> int:
        """Offset just past the first ``marker`` at or after ``start``."""
        try:
            async with asyncio.timeout(WAIT_TIMEOUT):
                return await self._find(marker, start)
        except TimeoutError:
            tail = bytes(self.data[-200:])
            raise TimeoutError(
                f"no {marker!r} from the terminal; it last printed {tail!r}"
            ) from None

    async def _find(self, marker: bytes, start: int) -> int:
        searched = start
        while True:
            found = self.data.find(marker, searched)
            if found >= 0:
                return found + len(marker)
            if self.closed:
                raise ConnectionError("the terminal closed")
            searched = max(start, len(self.data) - len(marker))
            self._grew.clear()
            await self._grew.wait()


class LocalPty:
    """bash on a local pseudo-terminal, read through the event loop."""

    def __init__(self) -> None:
        env = {**os.environ, "TERM": "xterm-256color", "PS1": "$ "}
        self.process = ptyprocess.PtyProcess.spawn(
            ["bash", "--norc", "--noprofile", "-i"], env=env, dimensions=(40, 120)
        )
        self.buffer = TerminalBuffer()
        os.set_blocking(self.process.fd, False)
        asyncio.get_running_loop().add_reader(self.process.fd, self._readable)

    def _readable(self) -> None:
        try:
            chunk = os.read(self.process.fd, READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if chunk:
            self.buffer.feed(chunk)
        else:
            asyncio.get_running_loop().remove_reader(self.process.fd)
            self.buffer.close()

    async def send(self, data: bytes) -> None:
        os.write(self.process.fd, data)

    async def close(self) -> None:
        if not self.buffer.closed:
            asyncio.get_running_loop().remove_reader(self.process.fd)
        self.process.terminate(force=True)


class WebSocketPty:
    """The session's PTY over the bridge's signed WebSocket."""

    def __init__(self, http: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.http = http
        self.ws = ws
        self.buffer = TerminalBuffer()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, headers: dict[str, str]) -> WebSocketPty:
        http = aiohttp.ClientSession()
        try:
            ws = await http.ws_connect(url, headers=headers, max_msg_size=0)
        except BaseException:
            await http.close()
            raise
        return cls(http, ws)

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    frame: dict[str, Any] = json.loads(message.data)
                    if frame.get("type") == "out":
                        self.buffer.feed(base64.b64decode(frame["data"]))
        finally:
            self.buffer.close()

    async def send(self, data: bytes) -> None:
        chars = base64.b64encode(data).decode()
        await self.ws.send_str(json.dumps({"type": "stdin", "chars": chars}))

    async def close(self) -> None:
        try:
            await self.ws.close()
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        finally:
            await self.http.close()
