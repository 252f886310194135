"""The compute session behind the editor: created on first need, watched, re-created.

`SessionManager` knows nothing of LSP: it reports its state through ``on_status`` and calls
``on_ready`` listeners whenever a session (new, reused, restarted or re-created) is ready, so
sync can run, and ``on_available`` ones when work held back can go again (the server is back
after a drop; this editor's runs are over): pending uploads go, the namespace mirror refreshes.
Actions go through `call`, which re-creates a session terminated from outside and turns a lost
connection into a reconnect loop with backoff. `switch` moves to a session that exists already
(one started from the WebUI or the CLI): listeners hear "attached", and the one left keeps
running unless asked otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from bai_bridge.api import (
    APISession,
    BackendClientError,
    BackendNotFoundError,
    Kernel,
    SessionSummary,
)
from bai_bridge.api.errors import BackendStreamBroken

from .config import BridgeOptions
from .protocol import SessionResources, SessionStatus
from .session_lookup import SessionNotFound, find_session, kernel_for
from .tasks import BackgroundTasks

__all__ = ["NotStarted", "SessionBusy", "SessionManager", "SessionUnavailable"]

log = logging.getLogger(__name__)
T = TypeVar("T")
ReadyListener = Callable[
    [Kernel, str], Coroutine[Any, Any, None]
]  # reason: created|reused|restarted|attached
BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
# A run shows the session "busy" only once it has lasted this long (like its progress):
# a short run costs the editor no busy/running pair of status notifications.
BUSY_AFTER = 0.1
# How long the check of a suspected drop may take: past it, the server counts as unreachable.
PROBE_TIMEOUT = 5.0
_GONE_EVENTS = {"session_terminated", "kernel_terminated", "session_cancelled", "kernel_cancelled"}
_STARTED_EVENTS = {"session_started", "kernel_started"}


class NotStarted(Exception):
    """The language server has not (or could not) set up its connection to the server."""


class SessionUnavailable(Exception):
    """The session server cannot be reached right now (a reconnect loop is running)."""


class SessionBusy(Exception):
    """Runs of this editor are going on in the session: it cannot be switched now."""


class SessionManager:
    def __init__(
        self,
        api: APISession,
        options: BridgeOptions,
        session_name: str,
        tasks: BackgroundTasks,
        on_status: Callable[[SessionStatus], None],
    ) -> None:
        self.api = api
        self.options = options
        self.session_name = session_name
        # The image of the session switched to (None: the settings' image, for new sessions).
        self.attached_image: str | None = None
        # An existing session (id or name) to attach to when one is first needed.
        self.attach_target: str | None = None
        self.on_notice: Callable[[str], None] = lambda message: log.info("%s", message)
        self.on_ready: list[ReadyListener] = []
        # Set while ``on_ready`` holds every listener: the language server's start sends the
        # create before it has attached them all, and a session ready sooner waits for this.
        self.listening = asyncio.Event()
        self.listening.set()
        self.on_available: list[Callable[[], None]] = []
        self._tasks = tasks
        self._on_status = on_status
        self._kernel: Kernel | None = None
        self._lock = asyncio.Lock()
        self._runs = 0
        self._busy_timer: asyncio.TimerHandle | None = None
        self._state = "terminated"
        self.status = SessionStatus(state=self._state, session_name=session_name)  # last pushed
        self._message: str | None = None
        self._resources: SessionResources | None = None  # of the running session only
        self._reconnecting: asyncio.Task[None] | None = None
        self._probe: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None

    # -- state ----------------------------------------------------------------------------

    @property
    def kernel_if_ready(self) -> Kernel | None:
        return self._kernel if self._state in ("running", "busy") else None

    @property
    def current(self) -> Kernel | None:
        """The session worked in (ready or not), if any."""
        return self._kernel

    @property
    def image(self) -> str:
        return self.attached_image or self.options.image

    @property
    def busy(self) -> bool:
        return self._runs > 0

    def set_state(self, state: str, message: str | None = None) -> None:
        self._state, self._message = state, message
        if state not in ("running", "busy"):
            self._resources = None  # a restart or a new session holds and uses afresh
        kernel = self._kernel
        self.status = SessionStatus(
            state=state,
            session_name=self.session_name,
            session_id=kernel.session_id if kernel else None,
            image=self.image,
            endpoint=str(self.api.endpoint),
            message=message,
            resources=self._resources,
        )
        self._on_status(self.status)

    def show_resources(self, resources: SessionResources | None) -> None:
        """Push the running session's resources again, if they changed."""
        if self._state in ("running", "busy") and resources != self._resources:
            self._resources = resources
            self.set_state(self._state, self._message)

    def run_started(self) -> None:
        self._runs += 1
        if self._runs == 1 and self._busy_timer is None:
            loop = asyncio.get_running_loop()
            self._busy_timer = loop.call_later(BUSY_AFTER, self._show_busy)

    def _show_busy(self) -> None:
        self._busy_timer = None
        if self._runs and self._state == "running":
            self.set_state("busy")

    def run_finished(self) -> None:
        self._runs = max(0, self._runs - 1)
        if self._runs:
            return
        if self._busy_timer is not None:
            self._busy_timer.cancel()  # over before it was shown busy: nothing to undo
            self._busy_timer = None
        if self._kernel is not None and self._state == "busy":
            self.set_state("running")
        self._available()

    # -- the session ----------------------------------------------------------------------

    async def kernel(self) -> Kernel:
        """The live session, created (or reused by name) on first need."""
        if self._reconnecting is not None and not self._reconnecting.done():
            raise SessionUnavailable("reconnecting to the session server")
        if self._kernel is not None:
            return self._kernel
        async with self._lock:
            return self._kernel or await self._create()

    async def _create(self) -> Kernel:
        target, self.attach_target = self.attach_target, None
        if target is not None:
            try:
                await self.api.negotiated()  # the session list's shape depends on the version
                return self._adopt(await find_session(self.api, target))
            except SessionNotFound as e:
                self.on_notice(
                    f"the session chosen for this folder is not there ({e}); starting one"
                )
            except BackendClientError as e:
                self.connection_lost(e)
                raise
        self.set_state("starting", f"starting {self.image}")
        try:
            kernel = await self.api.Kernel.get_or_create(
                self.image,
                client_token=self.session_name,
                mounts=list(self.options.mounts),
                envs=dict(self.options.envs),
                resources=dict(self.options.resources),
            )
        except BackendClientError as e:
            self.connection_lost(e)
            raise
        except Exception as e:
            self.set_state("error", str(e))
            raise
        self._kernel = kernel
        kernel.keep_execute_socket = True  # a run over the WebSocket waits for no handshake
        self.set_state("busy" if self._runs else "running")
        reason = "created" if kernel.created else "reused"
        self._tasks.spawn(self._follow_new(kernel, reason), "session-follow")
        return kernel

    async def _follow_new(self, kernel: Kernel, reason: str) -> None:
        """Connect the spare execute sockets and the event stream, and tell the listeners,
        one loop turn after the create's answer: a run that waited for the session sends
        its code first (their first steps took 8 ms of its round trip)."""
        await asyncio.sleep(0)
        if self._kernel is not kernel:
            return
        kernel.ready_execute_socket()
        self._watch(kernel)
        self._announce(kernel, reason)

    def _available(self) -> None:
        for listener in self.on_available:
            listener()

    def _announce(self, kernel: Kernel, reason: str) -> None:
        self._tasks.spawn(self._tell_ready(kernel, reason), f"session-ready:{reason}")

    async def _tell_ready(self, kernel: Kernel, reason: str) -> None:
        await self.listening.wait()
        for listener in self.on_ready:
            self._tasks.spawn(listener(kernel, reason), f"session-ready:{reason}")

    def forget(self, reason: str) -> None:
        """The session is gone (terminated from outside or destroyed)."""
        self._let_go()
        self.set_state("terminated", reason)

    def _let_go(self) -> None:
        """Stop following the current session (it may go on running)."""
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if self._kernel is not None:
            self._tasks.spawn(self._kernel.drop_execute_socket(), "drop-execute-socket")
        self._kernel = None

    async def switch(self, target: str, *, destroy_current: bool = False) -> Kernel:
        """Work in the existing session ``target`` (id, id prefix or name) from now on; the
        current one keeps running unless ``destroy_current``. `SessionNotFound` if none is."""
        summary = await find_session(self.api, target)
        async with self._leaving(destroy_current, keep=summary.name):
            return self._adopt(summary)

    async def renew(self, name: str, *, destroy_current: bool = False) -> Kernel:
        """Start a new session named ``name`` (the settings' image) and work in it."""
        async with self._leaving(destroy_current, keep=name):
            self.session_name, self.attached_image = name, None
            return await self._create()

    @contextlib.asynccontextmanager
    async def _leaving(self, destroy: bool, keep: str | None) -> AsyncIterator[None]:
        """Let go of the current session (destroyed if ``destroy``, unless it is ``keep``)."""
        if self._runs:
            raise SessionBusy("a run is going on in the current session: wait or interrupt it")
        async with self._lock:
            previous = self._kernel
            if destroy and previous is not None and previous.name != keep:
                with contextlib.suppress(BackendNotFoundError):
                    await previous.destroy()
            self._let_go()
            yield

    def _adopt(self, summary: SessionSummary) -> Kernel:
        kernel = kernel_for(self.api, summary)
        status = summary.status or "RUNNING"
        self._kernel = kernel
        self.session_name, self.attached_image = kernel.name, summary.image or self.image
        kernel.keep_execute_socket = True
        kernel.ready_execute_socket()
        if status in ("RUNNING", "RUNNING_DEGRADED"):
            self.set_state("busy" if self._runs else "running", f"attached to {kernel.name}")
        else:  # its start (or restart) is still going on: its events say when it is done
            self.set_state("starting", f"attached to {kernel.name} ({status.lower()})")
        self._watch(kernel)
        self._announce(kernel, "attached")
        return kernel

    async def call(self, fn: Callable[[Kernel], Awaitable[T]]) -> T:
        """Run ``fn`` on the session; one retry on a fresh session if it vanished."""
        kernel = await self.kernel()
        try:
            return await fn(kernel)
        except BackendNotFoundError:
            if self._kernel is kernel:
                self.forget("the session was terminated; creating a new one")
            return await fn(await self.kernel())
        except BackendClientError as e:
            self.connection_lost(e)
            raise

    async def restart(self) -> None:
        kernel = await self.kernel()
        self.set_state("restarting")
        try:
            await kernel.restart()
        except Exception as e:
            self.set_state("error", f"the restart failed ({e}); try again or destroy it")
            raise
        self.set_state("busy" if self._runs else "running", "restarted")
        self._announce(kernel, "restarted")

    async def destroy(self) -> None:
        kernel = await self.kernel()
        # Said first: the session's terminal, ended by the destroy, then waits for the next
        # session instead of taking the end of its shell for something to reconnect to.
        self.set_state("destroying")
        try:
            await kernel.destroy()
        finally:
            self.forget("destroyed; the next action creates a new session")

    async def close(self) -> None:
        if self._busy_timer is not None:
            self._busy_timer.cancel()
            self._busy_timer = None
        for task in (self._watcher, self._reconnecting, self._probe):
            if task is not None:
                task.cancel()

    # -- reconnect and events ---------------------------------------------------------------

    def connection_lost(self, error: BaseException) -> None:
        if self._reconnecting is not None and not self._reconnecting.done():
            return
        self.set_state("reconnecting", f"lost the session server ({error}); retrying")
        self._reconnecting = self._tasks.spawn(self._reconnect(), "session-reconnect")

    def suspect(self, error: BaseException) -> None:
        """Something that needs the server failed while no action asked (the event stream
        dropped, a keep-warm request failed): ask the server once more, now. No answer shows
        "reconnecting" at once; an answer means it was a blip, and nothing is shown."""
        if self._reconnecting is not None and not self._reconnecting.done():
            return
        if self._probe is None or self._probe.done():
            self._probe = self._tasks.spawn(self._check_server(error), "session-probe")

    async def _check_server(self, error: BaseException) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await self.api.hello()
        except Exception as e:
            log.info("the session server did not answer after %r: %r", error, e)
            self.connection_lost(e)

    async def _reconnect(self) -> None:
        for attempt in itertools.count():
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            try:
                await self.api.hello()
            except Exception as e:
                log.info("session server still unreachable: %s", e)
                continue
            break
        self._reconnecting = None  # actions may go again (what `_available` wakes does)
        kernel = self._kernel
        if kernel is None:
            self.set_state("terminated", "reconnected; the next action starts the session")
        elif not await self._still_there(kernel):
            self.forget("reconnected, but the session is gone; the next action re-creates it")
        else:
            self.set_state("busy" if self._runs else "running", "reconnected")
            self._watch(kernel)  # its event stream re-opened now, not after its own backoff
        self._available()

    async def _still_there(self, kernel: Kernel) -> bool:
        try:
            await kernel.get_info()
        except Exception as e:
            log.info("the session did not survive the drop: %s", e)
            return False
        return True

    def _watch(self, kernel: Kernel) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        self._watcher = self._tasks.spawn(self._watch_events(kernel), "session-events")

    async def _watch_events(self, kernel: Kernel) -> None:
        """Follow the session's lifecycle events; the stream is re-opened when it drops."""
        attempt = 0
        connects = 0

        def connected() -> None:
            nonlocal connects
            connects += 1
            if connects > 1:  # events sent while it was down are lost: look at the session
                self._tasks.spawn(self._verify(kernel), "session-verify")

        while self._kernel is kernel:
            try:
                async with kernel.stream_events(
                    on_connect=connected, on_drop=self.suspect
                ) as events:
                    async for event in events:
                        attempt = 0
                        self._on_event(kernel, event.name)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.info("event stream of %s dropped: %s", kernel.kernel_id, e)
                if isinstance(e, BackendClientError) and not isinstance(e, BackendStreamBroken):
                    self.connection_lost(e)  # unreachable while idle: shown, not only logged
            await asyncio.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
            attempt += 1

    async def _verify(self, kernel: Kernel) -> None:
        """Notice a session terminated while its event stream was down."""
        try:
            await kernel.get_info()
        except BackendNotFoundError:
            if self._kernel is kernel:
                self.forget("the session was terminated; the next action re-creates it")
        except Exception as e:
            log.info("could not look at the session after its event stream came back: %s", e)

    def _on_event(self, kernel: Kernel, name: str) -> None:
        if self._kernel is not kernel or self._state in ("restarting", "destroying"):
            return  # a restart may pass through kernel events of its own; a destroy ends
        if name in _GONE_EVENTS:
            self._kernel = None
            self.set_state(
                "terminated", "the session was terminated; the next action re-creates it"
            )
        elif name in _STARTED_EVENTS and self._state not in ("running", "busy"):
            self.set_state("busy" if self._runs else "running")
