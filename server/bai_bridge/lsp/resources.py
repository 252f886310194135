"""The session's resources in its status: the slots it holds and, where the server reports
it, what it uses (``get_info``'s slot strings and ``lastStat``, protocol doc §3.6).

Read once when a session is ready (unless a run waits for it: then at its end), once when
the last run ends, and every `REFRESH` seconds while a run goes on; never while the session
is idle. On a manager each ``get_info`` counts
as use of the session (it refreshes the idle timeout) and costs a round trip over a WAN, so
an idle editor must not keep asking. Real managers send ``lastStat`` only once a session has
ended: against them the status shows the slots alone.
"""

from __future__ import annotations

import asyncio
import logging
import time

from bai_bridge.api import Kernel
from bai_bridge.api.models import SessionInfo

from .protocol import SessionResources
from .session import SessionManager
from .tasks import BackgroundTasks

__all__ = ["REFRESH", "ResourceWatch", "session_resources"]

log = logging.getLogger(__name__)
REFRESH = 15.0


def session_resources(
    info: SessionInfo, previous: tuple[float, float] | None, now: float
) -> tuple[SessionResources | None, tuple[float, float] | None]:
    """The status's resources from one ``get_info``, and the (time, CPU ms) sample to
    measure the next one's CPU percentage against. Without a utilisation figure from the
    server, CPU percent is the CPU time used between two samples over the time between them.
    """
    slots, usage = info.allocation(), info.usage()
    if slots is None and usage is None:
        return None, None
    sample = None
    cpu_percent = None
    if usage is not None and usage.cpu_used_ms is not None:
        sample = (now, usage.cpu_used_ms)
        if previous is not None and now > previous[0] and usage.cpu_used_ms >= previous[1]:
            cpu_percent = (usage.cpu_used_ms - previous[1]) / ((now - previous[0]) * 10)
    if usage is not None and usage.cpu_util is not None:
        cpu_percent = usage.cpu_util
    resources = SessionResources(
        cpu=slots.cpu if slots else None,
        memory=slots.mem if slots else None,
        gpu=slots.cuda_device if slots else None,
        fgpu=slots.cuda_shares if slots else None,
        cpu_percent=None if cpu_percent is None else round(cpu_percent, 1),
        memory_used=usage.mem if usage else None,
    )
    return resources, sample


class ResourceWatch:
    def __init__(
        self, sessions: SessionManager, tasks: BackgroundTasks, refresh: float = REFRESH
    ) -> None:
        self._sessions = sessions
        self._tasks = tasks
        self._refresh = refresh
        self._follower: asyncio.Task[None] | None = None
        self._previous: tuple[float, float] | None = None

    def attach(self) -> None:
        self._sessions.on_ready.append(self._follow)
        self._sessions.on_available.append(self._available)

    async def _follow(self, kernel: Kernel, reason: str) -> None:
        """One follower per session: a newer ready session (or restart) replaces it."""
        if self._follower is not None:
            self._follower.cancel()
        self._follower = asyncio.current_task()
        self._previous = None
        if not self._sessions.busy:  # a run waiting for this session: its end reads them,
            await self._sample()  # and its request gets the kept-alive connection first
        while True:
            await asyncio.sleep(self._refresh)
            if self._sessions.busy:
                await self._sample()

    def _available(self) -> None:
        """The editor's runs are over, or the server is back: one reading, then none idle."""
        self._tasks.spawn(self._sample(), "session-resources")

    async def _sample(self) -> None:
        kernel = self._sessions.kernel_if_ready
        if kernel is None:
            return
        try:
            info = await kernel.get_info()
        except Exception as e:  # the session manager reports lost connections itself
            log.info("session resources not read: %s", e)
            return
        if kernel is not self._sessions.kernel_if_ready:
            return
        resources, self._previous = session_resources(info, self._previous, time.monotonic())
        self._sessions.show_resources(resources)
