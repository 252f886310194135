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
from typing import TYPE_CHECKING, Any

from .websocket import KernelWebSocket, connect_kernel_stream

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["StreamPty", "decode_pty_frame", "open_pty"]

log = logging.getLogger(__name__)


async def open_pty(kernel: Kernel) -> StreamPty:
    """Connect to ``/stream/{kernel|session}/{sid}/pty``."""
    return StreamPty(await connect_kernel_stream(kernel, "pty"))


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


class StreamPty(KernelWebSocket):
    """An open terminal: ``send`` bytes, iterate (or ``receive``) output bytes, ``close``."""

    what = "terminal connection"

    async def _send_json(self, message: dict[str, Any]) -> None:
        await self._send_text(json.dumps(message))

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
        while (payload := await self._receive_payload()) is not None:
            if data := decode_pty_frame(payload):
                return data
        return None

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (data := await self.receive()) is not None:
            yield data
