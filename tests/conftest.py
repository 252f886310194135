"""Shared fixtures: the embedded session server on 127.0.0.1 (in-process, or the standalone
`bai-bridge local-server`), with a random keypair and a temporary data dir, and a signing
HTTP client for it. Helpers live in serverkit.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from bai_bridge.local.serve import RunningServer, start_server
from serverkit import SignedClient, StandaloneServer, random_config, standalone_server


@pytest.fixture
async def local_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    """The embedded server, in-process; closing it stops every kernel it started."""
    server = await start_server(random_config(tmp_path / "data"))
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def client(local_server: RunningServer) -> AsyncIterator[SignedClient]:
    """A signing client of `local_server` (API v8.20240915 unless a request says otherwise)."""
    async with aiohttp.ClientSession() as session:
        yield SignedClient(
            local_server.endpoint, local_server.access_key, local_server.secret_key, session
        )


@pytest.fixture
def local_server_process(tmp_path: Path) -> Iterator[StandaloneServer]:
    """`bai-bridge local-server` as a subprocess on a free port (SIGTERM at teardown)."""
    with standalone_server(tmp_path) as server:
        yield server
