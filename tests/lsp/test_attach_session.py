"""Attaching to a session started elsewhere (the WebUI, the CLI: here another API client):
the list shows it with its image, status, age and slots; attaching makes runs see its
variables, the session left keeps running, and the choice made at start (remembered by the
editor) is used instead of a new session, or said to be gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.api import APIConfig, APISession, Kernel, list_sessions
from bai_bridge.lsp import protocol
from serverkit import StandaloneServer

from .lsp_harness import (
    Recorder,
    command,
    field,
    initialize,
    open_doc,
    run_selection,
    start_client,
    stop_server,
)

ELSEWHERE = "made-elsewhere"


def env_of(server: StandaloneServer) -> dict[str, str]:
    return {
        "BACKEND_ENDPOINT": server.endpoint,
        "BACKEND_ACCESS_KEY": server.access_key,
        "BACKEND_SECRET_KEY": server.secret_key,
    }


@pytest.fixture
async def other_client(local_server_process: StandaloneServer) -> AsyncIterator[APISession]:
    """Another client of the same backend and keypair (the WebUI, the CLI)."""
    server = local_server_process
    config = APIConfig(
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        env={},
    )
    async with APISession(config) as api:
        yield api


async def start_elsewhere(api: APISession) -> Kernel:
    kernel = await api.Kernel.get_or_create(
        "python", client_token=ELSEWHERE, resources={"cpu": 1, "mem": "1g"}
    )
    async for _ in kernel.run("shared_value = 6 * 7"):
        pass
    return kernel


@asynccontextmanager
async def bridge_on(
    server: StandaloneServer, profile: str, root: Path, options: dict[str, Any] | None = None
) -> AsyncIterator[tuple[LanguageClient, Recorder]]:
    client = await start_client(profile, env_of(server))
    try:
        yield client, await initialize(client, root, options)
    finally:
        await stop_server(client)
        await client.stop()


def by_name(listing: Any) -> dict[str, Any]:
    return {field(entry, "name"): entry for entry in field(listing, "sessions")}


async def test_attach_to_a_session_started_elsewhere(
    local_server_process: StandaloneServer,
    profile: str,
    other_client: APISession,
    tmp_path: Path,
) -> None:
    elsewhere = await start_elsewhere(other_client)
    async with bridge_on(local_server_process, profile, tmp_path) as (client, bridge):
        own_id = bridge.statuses[-1]["sessionId"]
        listing = await command(client, protocol.LIST_SESSIONS)
        sessions = by_name(listing)
        assert field(listing, "totalCount") == 2
        other = sessions[ELSEWHERE]
        assert (field(other, "id"), field(other, "status")) == (elsewhere.session_id, "RUNNING")
        assert field(other, "image") == "python"
        assert 0 <= field(other, "ageSeconds") < 600
        resources = field(other, "resources")
        assert (field(resources, "cpu"), field(resources, "memory")) == (1, 1 << 30)
        assert field(other, "current") is False
        own = next(e for e in field(listing, "sessions") if field(e, "id") == own_id)
        assert field(own, "current") is True

        choice = await command(client, protocol.ATTACH_SESSION, {"session": ELSEWHERE})
        assert field(choice, "sessionId") == elsewhere.session_id
        assert field(choice, "sessionName") == ELSEWHERE
        assert (bridge.statuses[-1]["sessionId"], bridge.state()) == (
            elsewhere.session_id,
            "running",
        )
        uri = open_doc(client, tmp_path / "use.py", "print('seen', shared_value)\n")
        result = await run_selection(client, uri, 0)
        assert "seen 42" in bridge.text(field(result, "runId"))

        still = await list_sessions(other_client)
        assert {s.id for s in still.items} == {own_id, elsewhere.session_id}  # left running

        missing = await command(client, protocol.ATTACH_SESSION, {"session": "not-a-session"})
        assert missing is None
        assert "no running session of yours is named 'not-a-session'" in (
            client.messages[-1].message
        )
        assert bridge.statuses[-1]["sessionId"] == elsewhere.session_id

        fresh = await command(client, protocol.NEW_SESSION, {"destroyCurrent": True})
        assert field(fresh, "sessionName").startswith(tmp_path.name[:20].strip("-._"))
        left = await list_sessions(other_client)
        assert {s.name for s in left.items} == {
            bridge.statuses[-1]["sessionName"],
            next(s.name for s in still.items if s.id == own_id),
        }  # the one attached to was destroyed, as asked


async def test_the_session_chosen_before_is_used_at_start(
    local_server_process: StandaloneServer,
    profile: str,
    other_client: APISession,
    tmp_path: Path,
) -> None:
    elsewhere = await start_elsewhere(other_client)
    options = {"attachSession": elsewhere.session_id}
    async with bridge_on(local_server_process, profile, tmp_path, options) as (client, bridge):
        assert bridge.statuses[-1]["sessionId"] == elsewhere.session_id
        assert not any(s["state"] == "starting" for s in bridge.statuses)  # nothing created
        uri = open_doc(client, tmp_path / "use.py", "print('seen', shared_value)\n")
        result = await run_selection(client, uri, 0)
        assert "seen 42" in bridge.text(field(result, "runId"))
    assert (await list_sessions(other_client)).total_count == 1

    await elsewhere.destroy()
    gone = {"attachSession": elsewhere.session_id}
    async with bridge_on(local_server_process, profile, tmp_path, gone) as (client, bridge):
        assert bridge.statuses[-1]["sessionId"] != elsewhere.session_id
        assert any(
            "the session chosen for this folder is not there" in m.message for m in client.messages
        )
