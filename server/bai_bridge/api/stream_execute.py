"""`ExecuteStream`: one run over the execute WebSocket (protocol doc §5.3).

The first frame carries the code; the server then pushes result frames (without ``runId``)
and continues by itself, except on ``waiting-input``, where `send_input` answers with one
plain text frame. The run ends with ``finished`` and the server closes the socket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp

from .errors import (
    BackendAPIError,
    BackendInvalidParamsError,
    BackendServerError,
    BackendStreamBroken,
)
from .models import BatchOptions, ExecutionResult, batch_options_payload, converter
from .websocket import KernelWebSocket, connect_kernel_stream

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["ExecuteStream", "StreamNotStarted", "open_execute_stream"]

_INVALID_PARAMS = "Invalid API parameters: "


async def open_execute_stream(
    kernel: Kernel,
    code: str = "",
    *,
    mode: str = "query",
    opts: BatchOptions | Mapping[str, Any] | None = None,
    connect_timeout: float | None = None,
) -> ExecuteStream:
    """Connect to ``/stream/{kernel|session}/{sid}/execute`` and send the start frame.

    ``connect_timeout`` bounds the handshake only (TimeoutError): nothing has run by then.
    """
    if mode not in ("query", "batch"):
        raise ValueError(f"stream-execution mode must be 'query' or 'batch', not {mode!r}")
    options = batch_options_payload(opts) if mode == "batch" else {}
    async with asyncio.timeout(connect_timeout):
        ws = await kernel.spare_execute_socket() or await connect_kernel_stream(kernel, "execute")
    stream = ExecuteStream(ws)
    try:
        await stream.ws.send_str(json.dumps({"code": code, "mode": mode, "options": options}))
    except (aiohttp.ClientError, ConnectionError) as e:
        # The server closed the socket before taking the code (a real case: code over its
        # message size limit, which it answers by closing): nothing ran.
        await stream.close()
        raise StreamNotStarted(f"execute stream lost before the code was sent: {e!r}") from e
    except BaseException:
        await stream.close()
        raise
    kernel.ready_execute_socket()  # the next run's, connecting while this one's code travels
    return stream


class StreamNotStarted(BackendStreamBroken):
    """The execute WebSocket broke before its start frame was sent: no code ran."""


class ExecuteStream(KernelWebSocket):
    """Iterate `ExecutionResult` frames until ``finished``; answer input with `send_input`."""

    what = "execute stream"

    async def send_input(self, text: str) -> None:
        """The answer to a ``waiting-input`` frame (sent raw, not as JSON)."""
        await self._send_text(text)

    async def receive(self) -> ExecutionResult | None:
        """The next result frame; None when the server closed the stream."""
        while (payload := await self._receive_payload()) is not None:
            frame: Any = json.loads(payload)
            if isinstance(frame, dict) and "status" in frame:
                return self._result(frame)
        if self.ws.close_code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
            raise BackendAPIError(
                413,
                "request-too-large",
                "The request is too large.",
                "the session server closed the execute stream: the code (or an input) is "
                "larger than it accepts in one message",
            )
        return None

    @staticmethod
    def _result(frame: dict[str, Any]) -> ExecutionResult:
        if frame["status"] in ("error", "server-restarting"):
            msg = frame.get("msg")
            # The server's own words for a refused request (§5.3): what a 400 would say.
            if isinstance(msg, str) and msg.startswith(_INVALID_PARAMS):
                raise BackendInvalidParamsError(
                    400,
                    "invalid-api-params",
                    "Missing or invalid API parameters.",
                    msg[len(_INVALID_PARAMS) :],
                )
            raise BackendServerError(
                500, f"execute-stream-{frame['status']}", "Execute stream error", msg
            )
        return converter.structure(frame, ExecutionResult)

    async def __aiter__(self) -> AsyncIterator[ExecutionResult]:
        while (result := await self.receive()) is not None:
            yield result
            if result.is_final:
                return
