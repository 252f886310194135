"""The session shows "busy" only for runs that last: a short run sends no busy/running pair."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bai_bridge.api import APISession
from bai_bridge.local.serve import RunningServer
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.protocol import SessionStatus
from bai_bridge.lsp.session import BUSY_AFTER, SessionManager
from bai_bridge.lsp.tasks import BackgroundTasks

from .lsp_harness import api_config_of

WAIT = 30.0


class Statuses:
    """What the manager reported, with a way to wait for a state."""

    def __init__(self) -> None:
        self.states: list[str] = []
        self._changed = asyncio.Event()

    def __call__(self, status: SessionStatus) -> None:
        self.states.append(status.state)
        self._changed.set()

    async def wait_for(self, state: str) -> None:
        async with asyncio.timeout(WAIT):
            while self.states[-1:] != [state]:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def managed(local_server: RunningServer) -> AsyncIterator[tuple[SessionManager, Statuses]]:
    config = api_config_of(local_server)
    tasks = BackgroundTasks()
    statuses = Statuses()
    async with APISession(config) as api:
        manager = SessionManager(api, BridgeOptions(), "busy-status", tasks, statuses)
        try:
            await manager.kernel()
            await statuses.wait_for("running")
            yield manager, statuses
        finally:
            await manager.close()
            await tasks.cancel_all()


async def test_a_run_over_before_the_delay_sends_no_status(
    managed: tuple[SessionManager, Statuses],
) -> None:
    manager, statuses = managed
    before = list(statuses.states)
    manager.run_started()
    assert manager.busy  # completions know at once, whatever the editor shows
    manager.run_finished()
    await asyncio.sleep(BUSY_AFTER * 2)  # the delay itself is what is under test
    assert statuses.states == before
    assert not manager.busy


async def test_a_run_that_lasts_shows_busy_then_running(
    managed: tuple[SessionManager, Statuses],
) -> None:
    manager, statuses = managed
    manager.run_started()
    manager.run_started()  # a second run while the first goes on: still one busy
    await statuses.wait_for("busy")
    manager.run_finished()
    assert statuses.states[-1] == "busy"
    manager.run_finished()
    assert statuses.states[-2:] == ["busy", "running"]
    assert statuses.states.count("busy") == 1
