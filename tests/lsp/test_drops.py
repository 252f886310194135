"""Drops between the language server and its session server lose nothing: the connection is
cut by the WAN emulator (tests/wanproxy.py) in the middle of a run's output, of the event
stream, or while idle; afterwards the status, the session's state and the run's output are
right, or the person is told exactly what was lost."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.api import APISession
from serverkit import StandaloneServer
from wanproxy import Link, WanProxy

from .lsp_harness import Recorder, initialize, start_client, stop_server
from .test_standalone_backend import Backend

# A drop noticed while idle shows within this; before, the event stream's own retries took
# 25 s (5 attempts 5 s apart) to give up. Generous for a busy 2-core machine.
PROMPT = 8.0


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
async def proxy(local_server_process: StandaloneServer) -> AsyncIterator[WanProxy]:
    port = int(local_server_process.endpoint.rsplit(":", 1)[1])
    async with WanProxy("127.0.0.1", port, Link(handshake=False)) as wan:
        yield wan


@pytest.fixture
def backend(local_server_process: StandaloneServer, profile: str) -> Backend:
    """The server itself: what other clients (these tests) reach it by, around the proxy."""
    return Backend(local_server_process, profile)


@asynccontextmanager
async def bridge_through(
    proxy: WanProxy, backend: Backend, root: Path, options: dict[str, Any] | None = None
) -> AsyncIterator[tuple[LanguageClient, Recorder]]:
    """A language server reaching ``backend`` through ``proxy``, its session running."""
    client = await start_client(backend.profile, {**backend.env, "BACKEND_ENDPOINT": proxy.address})
    try:
        yield client, await initialize(client, root, options)
    finally:
        proxy.restore()
        await stop_server(client)
        await client.stop()


def states(bridge: Recorder) -> list[str]:
    return [s["state"] for s in bridge.statuses]


def events_requests(proxy: WanProxy) -> int:
    return len([r for r in proxy.requests if "/events" in r.target])


async def test_an_idle_drop_shows_reconnecting_at_once_then_running(
    proxy: WanProxy, backend: Backend, project: Path
) -> None:
    async with bridge_through(proxy, backend, project, {"syncOnStart": False}) as (_, bridge):
        await bridge.wait_for("the event stream", lambda: events_requests(proxy) >= 1)
        shown = len(bridge.statuses)
        cut_at = time.monotonic()
        proxy.cut(refuse=True)
        await bridge.wait_for(
            "reconnecting", lambda: "reconnecting" in states(bridge)[shown:], limit=PROMPT
        )
        assert time.monotonic() - cut_at < PROMPT
        proxy.restore()
        await bridge.wait_for("running again", lambda: bridge.state() == "running")
        assert states(bridge)[shown:].count("reconnecting") == 1  # shown once, no flapping


async def test_a_blip_that_leaves_the_server_reachable_shows_nothing(
    proxy: WanProxy, backend: Backend, project: Path
) -> None:
    """A reset of the live connections (the event stream's among them) while new ones get
    through: the status stays "running" while the event stream comes back."""
    async with bridge_through(proxy, backend, project, {"syncOnStart": False}) as (_, bridge):
        await bridge.wait_for("the event stream", lambda: events_requests(proxy) >= 1)
        shown, opened = len(bridge.statuses), events_requests(proxy)
        proxy.cut()
        await bridge.wait_for(
            "the event stream re-opened", lambda: events_requests(proxy) > opened, limit=30
        )
        assert states(bridge)[shown:] == []
        assert bridge.state() == "running"


@pytest.mark.parametrize("refuse", [False, True], ids=["blip", "outage"])
async def test_a_session_terminated_during_a_drop_is_noticed(
    proxy: WanProxy, backend: Backend, project: Path, refuse: bool
) -> None:
    """Its ``session_terminated`` event went out while the event stream was down."""
    async with bridge_through(proxy, backend, project, {"syncOnStart": False}) as (_, bridge):
        await bridge.wait_for("the event stream", lambda: events_requests(proxy) >= 1)
        name, shown = bridge.statuses[-1]["sessionName"], len(bridge.statuses)
        proxy.cut(refuse=refuse)
        async with APISession(backend.api_config) as api:
            await api.Kernel(name).destroy()
        proxy.restore()
        await bridge.wait_for("terminated", lambda: bridge.state() == "terminated", limit=30)
        assert "terminated" in states(bridge)[shown:]
