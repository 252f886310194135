"""`KernelWebSocket`: what the terminal and execute streams share (protocol doc §5.2, §5.3).

One WebSocket under ``/stream/{kernel|session}/{sid}/``, closed on leaving ``async with``;
a lost or failed connection is raised as `BackendStreamBroken` (a `BackendClientError`).
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

import aiohttp

from .errors import BackendStreamBroken

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["KernelWebSocket", "connect_kernel_stream"]


async def connect_kernel_stream(kernel: Kernel, name: str) -> aiohttp.ClientWebSocketResponse:
    """Connect to ``/stream/{kernel|session}/{sid}/{name}``."""
    return await kernel.session.ws_connect(kernel.stream_path(name), kernel.request_query())


class KernelWebSocket:
    """An open stream: text out, data frames in, ``close`` (also on leaving ``async with``)."""

    # How the stream is named in error messages.
    what = "stream"

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

    async def close(self) -> None:
        await self.ws.close()

    async def _send_text(self, text: str) -> None:
        try:
            await self.ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError) as e:
            raise BackendStreamBroken(f"{self.what} lost: {e}") from e

    async def _receive_payload(self) -> str | bytes | None:
        """The next TEXT or BINARY frame's data; None once the socket closes."""
        msg = await self.ws.receive()
        if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            payload: str | bytes = msg.data
            return payload
        if msg.type == aiohttp.WSMsgType.ERROR:
            raise BackendStreamBroken(f"{self.what} failed: {self.ws.exception()}")
        # CLOSE, CLOSING or CLOSED: with autoping on, aiohttp hands out no other kind.
        return None
