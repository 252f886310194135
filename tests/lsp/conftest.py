"""Fixtures shared by the LSP tests.

``profile``: the embedded server's profile, "embedded" then "cluster" (harness.PROFILES): every
test that reaches a server through these fixtures runs on both, once per module and profile.
``client``/``bridge``: one language server per test module and profile over stdio, initialized
on the module's ``workspace`` fixture (which takes ``profile``, so each profile gets its own)
with its ``bridge_options`` (override either in the module).
``local_server``/``local_server_process``: the embedded server in the profile.
``sessions``: a `SessionManager` on the in-process embedded server, for tests that drive the
LSP-side services without the protocol.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pytest_lsp import LanguageClient

from bai_bridge.api import APISession
from bai_bridge.local.config import ServerProfile
from bai_bridge.local.serve import RunningServer, start_server
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.protocol import SessionStatus
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.tasks import BackgroundTasks
from serverkit import StandaloneServer, random_config, standalone_server
from wanproxy import Link, WanProxy

from .lsp_harness import (
    PROFILES,
    Recorder,
    api_config_of,
    initialize,
    start_client,
    stop_server,
)


@pytest.fixture(scope="session", autouse=True)
def package_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Language servers the tests start keep the session's packages (and environment
    answers) in a tmp dir, never in the user's cache."""
    before = os.environ.get("BAI_BRIDGE_CACHE_DIR")
    os.environ["BAI_BRIDGE_CACHE_DIR"] = str(tmp_path_factory.mktemp("bai-bridge-cache"))
    yield
    if before is None:
        os.environ.pop("BAI_BRIDGE_CACHE_DIR", None)
    else:
        os.environ["BAI_BRIDGE_CACHE_DIR"] = before


@pytest.fixture(scope="module", params=PROFILES)
def profile(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(profile: str) -> AsyncIterator[LanguageClient]:
    """pytest-lsp's fixture takes one config; this one starts the server in the profile."""
    lsp_client = await start_client(profile)
    try:
        yield lsp_client
    finally:
        await stop_server(lsp_client)
        await lsp_client.stop()


@pytest.fixture
async def local_server(tmp_path: Path, profile: str) -> AsyncIterator[RunningServer]:
    server = await start_server(random_config(tmp_path / "data", profile=ServerProfile(profile)))
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
def local_server_process(tmp_path: Path, profile: str) -> Iterator[StandaloneServer]:
    with standalone_server(tmp_path, profile=profile) as server:
        yield server


@pytest.fixture
async def proxy(local_server_process: StandaloneServer) -> AsyncIterator[WanProxy]:
    """The WAN emulator in front of ``local_server_process``, without delay: a test counts,
    holds or cuts what passes."""
    port = int(local_server_process.endpoint.rsplit(":", 1)[1])
    async with WanProxy("127.0.0.1", port, Link(handshake=False)) as wan:
        yield wan


@pytest.fixture(scope="module")
def bridge_options() -> dict[str, Any]:
    """The module's ``baiBridge`` initialization options."""
    return {}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bridge(
    client: LanguageClient, workspace: Path, bridge_options: dict[str, Any]
) -> Recorder:
    return await initialize(client, workspace, bridge_options)


@pytest.fixture
async def sessions(
    local_server: RunningServer, request: pytest.FixtureRequest
) -> AsyncIterator[SessionManager]:
    """Named after the test module; closed, with its background tasks, at teardown."""
    config = api_config_of(local_server)
    tasks = BackgroundTasks()
    statuses: list[SessionStatus] = []
    name = request.path.stem.removeprefix("test_").replace("_", "-")
    async with APISession(config) as api:
        manager = SessionManager(api, BridgeOptions(), name, tasks, statuses.append)
        try:
            yield manager
        finally:
            await manager.close()
            await tasks.cancel_all()
