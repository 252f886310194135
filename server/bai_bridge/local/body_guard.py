"""Bounds on a request's body: its announced size and the time it may take to arrive.

aiohttp reads a body only when a handler asks for it, with no deadline: a client announcing
10 GB and sending nothing, or a byte every 10 s, held its connection (and the handler) for
good. A body larger than the server's limit is refused from its Content-Length before a byte
of it is read; a body not complete within `body_timeout` of its head has its connection
closed. (The head itself is bounded by aiohttp's keep-alive timer: see `serve.py`.)
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from bai_bridge.local.problems import PayloadTooLarge

__all__ = ["body_guard", "too_large"]

log = logging.getLogger(__name__)


def too_large(limit: int, size: int | None = None) -> PayloadTooLarge:
    """The 413 problem, naming the limit (and the size, when announced)."""
    what = f"The request body ({size:,} bytes)" if size is not None else "The request body"
    return PayloadTooLarge(
        f"{what} is over this server's limit of {limit:,} bytes.",
        data={"limit": limit, "size": size},
    )


def body_guard(body_timeout: float) -> Middleware:
    """The middleware; ``body_timeout``: seconds from the head to the body's last byte."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        size = request.content_length
        if size is not None and size > request.client_max_size > 0:
            raise too_large(request.client_max_size, size)
        if not request.body_exists or request.content.is_eof() or _is_upgrade(request):
            return await handler(request)
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(body_timeout, _cut_if_incomplete, request, body_timeout)
        try:
            return await handler(request)
        finally:
            deadline.cancel()

    return middleware


def _is_upgrade(request: web.Request) -> bool:
    return request.headers.get(hdrs.UPGRADE, "").lower() == "websocket"


def _cut_if_incomplete(request: web.Request, body_timeout: float) -> None:
    if request.content.is_eof() or request.transport is None:
        return
    log.info(
        "%s %s: the body did not arrive within %.0f s; closing the connection",
        request.method,
        request.path,
        body_timeout,
    )
    request.transport.close()
