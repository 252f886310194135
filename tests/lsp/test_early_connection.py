"""The manager's connection opens while the language server starts, before `initialize`: the
version's `GET /` (and the TCP handshake before it) is over when the start needs the
connection, which it takes rather than opening one of its own; settings naming another
endpoint get a connection of their own and the early one is left unused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from serverkit import StandaloneServer
from wanproxy import WanProxy

from .lsp_harness import field, initialize, open_doc, run_selection, start_client, stop_server
from .test_standalone_backend import Backend

QUIET = {"syncOnStart": False, "namespaceMirror": False, "sessionEnvironment": False}


async def until(what: str, check: Callable[[], bool], limit: float = 30.0) -> None:
    """Wait for what the proxy sees (it has no event to wait on): re-checked every 10 ms."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def version_requests(proxy: WanProxy) -> int:
    return len([r for r in proxy.requests if r.method == "GET" and r.target == "/"])


async def test_the_version_is_asked_before_initialize_and_the_start_takes_that_connection(
    proxy: WanProxy, local_server_process: StandaloneServer, profile: str, tmp_path: Path
) -> None:
    backend = Backend(local_server_process, profile)
    client = await start_client(profile, {**backend.env, "BACKEND_ENDPOINT": proxy.address})
    try:
        # Nothing has been said to the language server yet.
        await until("the early `GET /`", lambda: version_requests(proxy) == 1)
        bridge = await initialize(client, tmp_path, QUIET)
        uri = open_doc(client, tmp_path / "a.py", "1 + 1\n")
        done = await run_selection(client, uri, 0)
        assert field(done, "status") == "finished", (bridge.statuses, client.messages)
        assert version_requests(proxy) == 1  # the start asked no second time
    finally:
        await stop_server(client)
        await client.stop()


async def test_settings_naming_another_endpoint_get_their_own_connection(
    proxy: WanProxy, local_server_process: StandaloneServer, profile: str, tmp_path: Path
) -> None:
    backend = Backend(local_server_process, profile)
    client = await start_client(profile, {**backend.env, "BACKEND_ENDPOINT": proxy.address})
    try:
        await until("the early `GET /`", lambda: version_requests(proxy) == 1)
        options = {**QUIET, "endpoint": local_server_process.endpoint}
        bridge = await initialize(client, tmp_path, options)
        uri = open_doc(client, tmp_path / "a.py", "1 + 1\n")
        done = await run_selection(client, uri, 0)
        assert field(done, "status") == "finished", (bridge.statuses, client.messages)
        # The session and its run went straight to the endpoint the settings name.
        assert [(r.method, r.target) for r in proxy.requests] == [("GET", "/")]
    finally:
        await stop_server(client)
        await client.stop()
