"""`StreamPty`: the session's terminal over a WebSocket (protocol doc §5.2).

Input goes out as ``{"type": "stdin", "chars": <base64>}`` text frames; output comes back
as ``{"type": "out", "data": <base64>}`` in TEXT frames (managers up to 24.09) or BINARY
frames (newer ones). `resize` and `restart` send their JSON messages themselves, so unlike
the official client's helpers they work.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from .errors import BackendClientError

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["StreamPty", "decode_pty_frame", "open_pty"]

log = logging.getLogger(__name__)


async def open_pty(kernel: Kernel) -> StreamPty:
    """Connect to ``/stream/{kernel|session}/{sid}/pty``."""
    path = f"/stream/{kernel.session.api_version.path_prefix}/{kernel.stream_id}/pty"
    ws = await kernel.session.ws_connect(path, kernel._query())
    return StreamPty(ws)


def decode_pty_frame(payload: str | bytes) -> bytes | None:
    """Output bytes of one server frame; None for frames that carry no output."""
    try:
        message: Any = json.loads(payload)
    except ValueError:
        # A non-JSON binary frame is raw terminal output.
        return payload if isinstance(payload, bytes) else None
    if not isinstance(message, dict):
        return None
    if message.get("type") == "out":
        return base64.b64decode(message.get("data") or "")
    if message.get("type") == "error":
        log.warning("terminal error from the server: %s", message.get("data"))
        return f"\r\n[terminal error: {message.get('data')}]\r\n".encode()
    return None


class StreamPty:
    """An open terminal: ``send`` bytes, iterate (or ``receive``) output bytes, ``close``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        return self.ws.closed

    async def _send_json(self, message: dict[str, Any]) -> None:
        try:
            await self.ws.send_str(json.dumps(message))
        except (aiohttp.ClientError, ConnectionError) as e:
            raise BackendClientError(f"terminal connection lost: {e}") from e

    async def send(self, data: bytes | str) -> None:
        """Keystrokes or pasted text (str is sent as UTF-8)."""
        raw = data.encode() if isinstance(data, str) else data
        await self._send_json({"type": "stdin", "chars": base64.b64encode(raw).decode()})

    async def resize(self, rows: int, cols: int) -> None:
        await self._send_json({"type": "resize", "rows": int(rows), "cols": int(cols)})

    async def restart(self) -> None:
        """Restart the session; the stream re-attaches on the next input."""
        await self._send_json({"type": "restart"})

    async def ping(self) -> None:
        """Keep the session from being reaped as idle."""
        await self._send_json({"type": "ping"})

    async def receive(self) -> bytes | None:
        """The next chunk of output; None once the terminal is closed."""
        while True:
            msg = await self.ws.receive()
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                data = decode_pty_frame(msg.data)
                if data:
                    return data
            elif msg.type == aiohttp.WSMsgType.ERROR:
                raise BackendClientError(f"terminal connection failed: {self.ws.exception()}")
            elif msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                return None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (data := await self.receive()) is not None:
            yield data

    async def close(self) -> None:
        await self.ws.close()
