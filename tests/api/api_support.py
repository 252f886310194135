"""Shared pieces of the client tests (importable as ``api_support`` from tests/api)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import attrs
from aiohttp import web

from bai_bridge.api.config import APIConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_shape(value: object) -> object:
    """The keys of a JSON value, recursively (values dropped): what parity compares."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in sorted(value.items())}
    return None


@attrs.frozen
class Recorded:
    """What arrived at the server for one request, before auth looked at it."""

    method: str
    path: str
    query_keys: tuple[str, ...]
    body_shape: object
    content_type: str | None
    version: str | None
    signed: bool


class Recorder:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._arrived = asyncio.Condition()

    async def wait_for(self, path_suffix: str) -> Recorded:
        """The first recorded request whose path ends with ``path_suffix`` (waits for it)."""

        def match() -> Recorded | None:
            return next((r for r in self.requests if r.path.endswith(path_suffix)), None)

        async with self._arrived:
            await self._arrived.wait_for(lambda: match() is not None)
        found = match()
        assert found is not None
        return found

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds, looking again whenever a request arrives."""
        async with self._arrived:
            await self._arrived.wait_for(condition)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        body_shape: object = None
        if request.content_type == "application/json" and request.can_read_body:
            try:
                body_shape = json_shape(json.loads(await request.read()))
            except ValueError:
                body_shape = "unparsable"
        content_type = request.headers.get("Content-Type")
        self.requests.append(
            Recorded(
                method=request.method,
                path=request.path,
                query_keys=tuple(request.query.keys()),
                body_shape=body_shape,
                content_type=content_type.split(";")[0].strip() if content_type else None,
                version=request.headers.get("X-BackendAI-Version"),
                signed="Date" in request.headers
                and request.headers.get("Authorization", "").startswith(
                    "BackendAI signMethod=HMAC-SHA256, credential="
                ),
            )
        )
        async with self._arrived:
            self._arrived.notify_all()
        return await handler(request)


@attrs.frozen
class Embedded:
    """A running embedded server: its client config and the recorder in front of it."""

    config: APIConfig
    recorder: Recorder
    data_dir: Path

    def client(self, api_version: str | None = None) -> APIConfig:
        return attrs.evolve(self.config, api_version=api_version)
