"""`ExecuteStream`: one run over the execute WebSocket (protocol doc §5.3).

The first frame carries the code; the server then pushes result frames (without ``runId``)
and continues by itself, except on ``waiting-input``, where `send_input` answers with one
plain text frame. The run ends with ``finished`` and the server closes the socket.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from .errors import BackendClientError, BackendServerError
from .models import BatchOptions, ExecutionResult, batch_options_payload, converter

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["ExecuteStream", "open_execute_stream"]


async def open_execute_stream(
    kernel: Kernel,
    code: str = "",
    *,
    mode: str = "query",
    opts: BatchOptions | Mapping[str, Any] | None = None,
) -> ExecuteStream:
    """Connect to ``/stream/{kernel|session}/{sid}/execute`` and send the start frame."""
    if mode not in ("query", "batch"):
        raise ValueError(f"stream-execution mode must be 'query' or 'batch', not {mode!r}")
    options = batch_options_payload(opts) if mode == "batch" else {}
    path = f"/stream/{kernel.session.api_version.path_prefix}/{kernel.stream_id}/execute"
    ws = await kernel.session.ws_connect(path, kernel._query())
    stream = ExecuteStream(ws)
    try:
        await ws.send_str(json.dumps({"code": code, "mode": mode, "options": options}))
    except BaseException:
        await stream.close()
        raise
    return stream


class ExecuteStream:
    """Iterate `ExecutionResult` frames until ``finished``; answer input with `send_input`."""

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

    async def send_input(self, text: str) -> None:
        """The answer to a ``waiting-input`` frame (sent raw, not as JSON)."""
        try:
            await self.ws.send_str(text)
        except (aiohttp.ClientError, ConnectionError) as e:
            raise BackendClientError(f"execute stream lost: {e}") from e

    async def receive(self) -> ExecutionResult | None:
        """The next result frame; None when the server closed the stream."""
        while True:
            msg = await self.ws.receive()
            if msg.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                frame: Any = json.loads(msg.data)
                if isinstance(frame, dict) and "status" in frame:
                    return self._result(frame)
            elif msg.type == aiohttp.WSMsgType.ERROR:
                raise BackendClientError(f"execute stream failed: {self.ws.exception()}")
            else:
                return None

    @staticmethod
    def _result(frame: dict[str, Any]) -> ExecutionResult:
        if frame["status"] in ("error", "server-restarting"):
            raise BackendServerError(
                500, f"execute-stream-{frame['status']}", "Execute stream error", frame.get("msg")
            )
        return converter.structure(frame, ExecutionResult)

    async def __aiter__(self) -> AsyncIterator[ExecutionResult]:
        while (result := await self.receive()) is not None:
            yield result
            if result.is_final:
                return

    async def close(self) -> None:
        await self.ws.close()
