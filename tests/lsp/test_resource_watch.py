"""While a run is busy the session's resources are read again every refresh period; once it
has ended they are read once more and then left alone (an idle session is not asked)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bai_bridge.api import APISession, Kernel
from bai_bridge.api.models import SessionInfo
from bai_bridge.local.serve import RunningServer
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.protocol import SessionStatus
from bai_bridge.lsp.resources import ResourceWatch
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.tasks import BackgroundTasks

from .lsp_harness import api_config_of

WAIT = 60.0
REFRESH = 0.2
BLOB = 128 * 2**20


class Statuses:
    def __init__(self) -> None:
        self.seen: list[SessionStatus] = []
        self._changed = asyncio.Event()

    def __call__(self, status: SessionStatus) -> None:
        self.seen.append(status)
        self._changed.set()

    async def wait_for(self, check: object) -> SessionStatus:
        assert callable(check)
        async with asyncio.timeout(WAIT):
            while not (self.seen and check(self.seen[-1])):
                self._changed.clear()
                await self._changed.wait()
        return self.seen[-1]


@pytest.fixture
async def watched(local_server: RunningServer) -> AsyncIterator[tuple[SessionManager, Statuses]]:
    config = api_config_of(local_server)
    tasks = BackgroundTasks()
    statuses = Statuses()
    async with APISession(config) as api:
        options = BridgeOptions(resources={"cpu": 1})
        manager = SessionManager(api, options, "resource-watch", tasks, statuses)
        ResourceWatch(manager, tasks, refresh=REFRESH).attach()
        try:
            await manager.kernel()
            yield manager, statuses
        finally:
            await manager.close()
            await tasks.cancel_all()


async def test_a_busy_run_is_followed_and_an_idle_session_is_not(
    watched: tuple[SessionManager, Statuses], monkeypatch: pytest.MonkeyPatch
) -> None:
    manager, statuses = watched
    reads: list[float] = []
    read = asyncio.Event()
    real_get_info = Kernel.get_info

    async def counted(kernel: Kernel) -> SessionInfo:  # counts the real calls, nothing else
        reads.append(asyncio.get_running_loop().time())
        read.set()
        return await real_get_info(kernel)

    monkeypatch.setattr(Kernel, "get_info", counted)
    first = await statuses.wait_for(lambda s: s.resources is not None)
    assert first.resources is not None
    assert first.resources.cpu == 1
    before = first.resources.memory_used
    assert before is not None
    kernel = await manager.kernel()
    manager.run_started()
    # The run grows, then waits: the growth must show while it is still going on.
    run = asyncio.create_task(
        kernel.execute(code=f"import time\nblob = b'x' * {BLOB}\ntime.sleep(30)")
    )
    try:
        grown = await statuses.wait_for(
            lambda s: (
                s.state == "busy"
                and s.resources is not None
                and (s.resources.memory_used or 0) >= before + BLOB * 0.95
            )
        )
        assert grown.resources is not None
        assert grown.resources.cpu == 1
    finally:
        await kernel.interrupt()
        await asyncio.gather(run, return_exceptions=True)
        ended = asyncio.get_running_loop().time()
        manager.run_finished()
    await statuses.wait_for(lambda s: s.state == "running")
    async with asyncio.timeout(WAIT):  # the one reading after the run ended
        while not any(at >= ended for at in reads):
            read.clear()
            await read.wait()
    quiet = len(reads)
    await asyncio.sleep(REFRESH * 5)  # idle for several refresh periods: nothing is read
    assert len(reads) == quiet


async def test_a_run_waiting_for_the_session_is_not_raced_by_a_reading(
    local_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run's request gets the kept-alive connection: the reading a ready session
    takes waits for that run's end (over a WAN a request beside it costs a new connection)."""
    reads: list[bool] = []  # whether a run was going on at each reading
    read = asyncio.Event()
    real_get_info = Kernel.get_info
    tasks = BackgroundTasks()

    async with APISession(api_config_of(local_server)) as api:
        manager = SessionManager(
            api, BridgeOptions(), "resource-watch-first-run", tasks, Statuses()
        )

        async def counted(kernel: Kernel) -> SessionInfo:
            reads.append(manager.busy)
            read.set()
            return await real_get_info(kernel)

        monkeypatch.setattr(Kernel, "get_info", counted)
        ResourceWatch(manager, tasks, refresh=REFRESH * 50).attach()
        try:
            manager.run_started()  # a run is waiting for the session as it starts
            kernel = await manager.kernel()
            assert [r async for r in kernel.run("1+1")][-1].status == "finished"
            assert reads == []  # a reading would have begun in its task's first step, long ago
            manager.run_finished()
            async with asyncio.timeout(WAIT):
                await read.wait()
            assert reads == [False]
        finally:
            await manager.close()
            await tasks.cancel_all()
