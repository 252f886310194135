"""Fixtures shared by the LSP tests.

``client``/``bridge``: one language server per test module over stdio, initialized on the
module's ``workspace`` fixture with its ``bridge_options`` (override either in the module).
``sessions``: a `SessionManager` on the in-process embedded server, for tests that drive the
LSP-side services without the protocol.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import pytest_lsp
from pytest_lsp import LanguageClient

from bai_bridge.api import APIConfig, APISession
from bai_bridge.local.serve import RunningServer
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.protocol import SessionStatus
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.tasks import BackgroundTasks

from .lsp_harness import Recorder, initialize, server_config, stop_server


@pytest_lsp.fixture(scope="module", config=server_config())
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    yield
    await stop_server(lsp_client)


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
    config = APIConfig(
        endpoint=local_server.endpoint,
        access_key=local_server.access_key,
        secret_key=local_server.secret_key,
        env={},
    )
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
