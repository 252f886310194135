"""One compute session: its work dir, its Jupyter kernel, its runs and its terminal."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import signal
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import attrs

from bai_bridge.local import metrics
from bai_bridge.local.batch import StepRunner, run_batch
from bai_bridge.local.errors import InvalidParams, KernelFailure, KernelUnavailable
from bai_bridge.local.kernel import JupyterKernel, KernelDied, KernelStart
from bai_bridge.local.payloads import BatchOptions
from bai_bridge.local.query import start_query
from bai_bridge.local.runs import ExecResult, Run
from bai_bridge.local.session_home import bash_rc, home_environment, person_home

log = logging.getLogger(__name__)

# Exit code of a run ended by a restart or destroy (the manager's "vanished kernel" value).
ABORTED_EXIT = 130


class Status(enum.StrEnum):
    PENDING = "PENDING"
    SCHEDULED = "SCHEDULED"
    PREPARING = "PREPARING"
    RUNNING = "RUNNING"
    RESTARTING = "RESTARTING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    ERROR = "ERROR"
    CANCELLED = "CANCELLED"


KERNEL_DIED = "kernel-died"
DEAD = frozenset({Status.TERMINATED, Status.CANCELLED})
SETTLED = frozenset({Status.RUNNING, Status.ERROR, Status.TERMINATED, Status.CANCELLED})


class TerminalLike(Protocol):
    @property
    def alive(self) -> bool: ...

    async def close(self) -> None: ...


T = TypeVar("T", bound=TerminalLike)


@attrs.frozen
class Mount:
    """A vfolder made visible in the work dir: ``link`` (relative to it) -> ``target``."""

    name: str
    target: Path
    link: Path


@attrs.frozen
class SessionSpec:
    name: str
    image: str
    kernel_name: str
    access_key: str
    type: str = "interactive"
    environ: Mapping[str, str] = attrs.Factory(dict)
    resources: Mapping[str, Any] = attrs.Factory(dict)
    resource_opts: Mapping[str, Any] = attrs.Factory(dict)
    mounts: tuple[Mount, ...] = ()
    startup_command: str | None = None
    bootstrap_script: str | None = None  # shell text run in the work dir before the kernel
    tag: str | None = None
    domain: str = "default"
    group: str = "default"
    architecture: str = "x86_64"
    batch_timeout: float | None = None  # seconds a batch session's startup command may run


class Session:
    """State and operations of one session; knows nothing of HTTP."""

    def __init__(self, spec: SessionSpec, root: Path, base_env: Mapping[str, str]) -> None:
        self.id = uuid.uuid4()
        self.kernel_id = uuid.uuid4()  # one kernel per session; kept across restarts
        self.spec = spec
        self.dir = root / str(self.id)
        self.work_dir = self.dir / "work"
        self.log_file = self.dir / "console.log"
        self.status = Status.PENDING
        self.status_info: str | None = None
        self.created_at = datetime.now(UTC)
        self.last_used = self.created_at
        # When the session last entered each status, as a manager keeps it (status -> ISO time).
        self.status_history = {str(Status.PENDING): self.created_at.isoformat()}
        self.terminated_at: datetime | None = None
        self.num_queries = 0
        self.kernel: JupyterKernel | None = None
        self.terminal: TerminalLike | None = None
        self.settled = asyncio.Event()
        # HOME is the work folder, as /home/work is on Backend.AI (see session_home).
        home = home_environment({**base_env, **self._backend_env()}, self.work_dir)
        self.env = {**home, **spec.environ}
        self._person_home = person_home(base_env)
        self.shell_rc = self.dir / "bashrc"  # read by the terminal's bash, if bash it is
        self.run_queue_size = 4096
        self.kernel_subshell = True  # see KernelStart.subshell
        self._runs: dict[str, Run] = {}
        self._run_lock = asyncio.Lock()
        self._terminal_lock = asyncio.Lock()
        # Start, restart and stop of the kernel never overlap (no kernel is left behind).
        self.lifecycle = asyncio.Lock()
        self._batch_runners: set[StepRunner] = set()
        self._watch: asyncio.Task[None] | None = None
        self._background: set[asyncio.Task[None]] = set()
        self.on_kernel_died: Callable[[Session, int | None], None] | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def mounts(self) -> tuple[Path, ...]:
        """The vfolders visible in the work dir (through symlinks): files may go there too."""
        return tuple(mount.target for mount in self.spec.mounts)

    @property
    def alive(self) -> bool:
        return self.status not in DEAD

    def _backend_env(self) -> dict[str, str]:
        return {
            "BACKENDAI_SESSION_ID": str(self.id),
            "BACKENDAI_SESSION_NAME": self.spec.name,
            "BACKENDAI_KERNEL_IMAGE": self.spec.image,
        }

    def run_in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Work that belongs to this session (its start, a batch startup command): it is
        cancelled when the session stops."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background work of session %s failed", self.name, exc_info=task.exception())

    async def _cancel_background(self) -> None:
        others = [t for t in self._background if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def touch(self) -> None:
        """Count a use of the session (the PTY's ping does this)."""
        self.last_used = datetime.now(UTC)

    def set_status(self, status: Status, info: str | None = None) -> None:
        self.status = status
        self.status_info = info
        self.status_history[str(status)] = datetime.now(UTC).isoformat()
        if status in SETTLED:
            self.settled.set()

    # -- lifecycle --------------------------------------------------------------------------

    def prepare_dirs(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True)
        self.work_dir.mkdir(mode=0o700)
        self.shell_rc.write_text(bash_rc(self._person_home, Path(self.env["HOME"])))
        for mount in self.spec.mounts:
            mount.target.mkdir(mode=0o700, parents=True, exist_ok=True)
            link = self.work_dir / mount.link
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists() and not link.is_symlink():
                link.symlink_to(mount.target, target_is_directory=True)

    async def start_kernel(self) -> None:
        spec = KernelStart(
            kernel_name=self.spec.kernel_name,
            cwd=self.work_dir,
            env=self.env,
            connection_file=self.dir / "kernel.json",
            log_file=self.log_file,
            subshell=self.kernel_subshell,
        )
        try:
            self.kernel = await JupyterKernel.start(spec)
        except Exception as exc:
            log.exception("kernel of session %s failed to start", self.name)
            raise KernelFailure("create", f"The kernel failed to start: {exc}") from exc
        self._watch = asyncio.create_task(self._watch_kernel(self.kernel))
        self.note(f"kernel {self.spec.kernel_name} started (pid {self.kernel.pid})")

    async def _watch_kernel(self, kernel: JupyterKernel) -> None:
        await kernel.dead.wait()
        if self.kernel is kernel and self.status == Status.RUNNING:
            log.warning("kernel of session %s died (exit %s)", self.name, kernel.exit_code)
            self.note(f"kernel died (exit code {kernel.exit_code}); restart the session")
            self.set_status(Status.ERROR, KERNEL_DIED)
            if self.on_kernel_died is not None:
                self.on_kernel_died(self, kernel.exit_code)

    async def restart(self) -> None:
        async with self.lifecycle:
            if self.status not in (Status.RUNNING, Status.ERROR):
                raise KernelUnavailable(f"The session {self.name} is {self.status}.")
            self.set_status(Status.RESTARTING)
            await self.stop_work()
            try:
                await self.start_kernel()
            except KernelFailure:
                self.set_status(Status.ERROR, "restart-failed")
                raise
            self.set_status(Status.RUNNING)
            self.note("restarted")

    async def stop(self, *, forced: bool = False) -> dict[str, Any]:
        """Stop everything; returns the last metrics (only the status when forced)."""
        await self._cancel_background()  # a start or bootstrap in progress ends here
        async with self.lifecycle:
            self.set_status(Status.TERMINATING)
            pid = self.kernel.pid if self.kernel else None
            stats = {} if forced else metrics.process_stats(pid)
            await self.stop_work(now=forced)
            self.terminated_at = datetime.now(UTC)
            self.set_status(Status.TERMINATED, "force-terminated" if forced else "user-requested")
        return {**stats, "status": "terminated"}

    async def stop_work(self, *, now: bool = False) -> None:
        for run in list(self._runs.values()):
            if run.task is not None:
                run.task.cancel()
            run.end(ABORTED_EXIT, "The run was stopped: the session restarted or ended.\n")
        for runner in list(self._batch_runners):
            runner.kill()
        await self.close_terminal()
        kernel, self.kernel = self.kernel, None
        if self._watch is not None:
            self._watch.cancel()
        if kernel is not None:
            await kernel.shutdown(now=now)

    # -- execution --------------------------------------------------------------------------

    def require_kernel(self) -> JupyterKernel:
        kernel = self.kernel
        if self.status != Status.RUNNING or kernel is None or not kernel.alive:
            raise KernelUnavailable(
                f"The session {self.name} has no running kernel (status {self.status}); "
                "restart it or wait until it is running."
            )
        return kernel

    async def execute(
        self,
        mode: str,
        run_id: str | None,
        code: str,
        batch: BatchOptions | None,
        flush: float,
        client_there: Callable[[], bool] = lambda: True,
        *,
        silent: bool = False,
    ) -> ExecResult:
        """One HTTP step of a run; a window whose client has gone by the time it is ready
        (``client_there()`` False) is kept for the run's next step."""
        if mode in ("query", "batch"):
            run = await self.start_run(run_id or uuid.uuid4().hex, code, batch, silent=silent)
        else:
            run = self._existing_run(run_id)
            run.take_over()  # from an execute stream that dropped, if one followed it
            if mode == "input":
                self.send_input(run, code)
        result = await self.next_result(run, flush)
        assert result is not None  # no follower given: never taken over
        if not client_there():
            self.unread(run, result)
        return result

    def unread(self, run: Run, result: ExecResult) -> None:
        """Keep ``result`` for whoever continues ``run`` next (see `Run.unread`)."""
        run.unread(result)
        self._runs.setdefault(run.run_id, run)  # a finished one was forgotten when read

    async def next_result(
        self, run: Run, flush: float, follower: int | None = None
    ) -> ExecResult | None:
        """The run's next window (see `Run.next_result`)."""
        result = await run.next_result(flush, follower)
        if result is not None and result.status == "finished":
            self._runs.pop(run.run_id, None)
        return result

    def forget_run(self, run: Run) -> None:
        """Drop a run nobody will read to its end (its client went away)."""
        self._runs.pop(run.run_id, None)

    def _existing_run(self, run_id: str | None) -> Run:
        run = self._runs.get(run_id or "")
        if run is None:
            raise InvalidParams(f"There is no active run with the ID {run_id!r}.")
        return run

    def send_input(self, run: Run, text: str) -> None:
        if not run.waiting_input:
            raise InvalidParams("The run is not waiting for input.")
        run.waiting_input = False
        if self.kernel is not None and self.kernel.alive:
            self.kernel.send_input(text)
        # Otherwise the kernel died while waiting: the run reports that on its next result.

    async def start_run(
        self, run_id: str, code: str, batch: BatchOptions | None, *, silent: bool = False
    ) -> Run:
        """Queue a run; a run waits until the session's previous run has finished (§4.6).
        ``silent``: a query leaves no trace in the kernel's history and execution count."""
        if batch is None:
            self.require_kernel()  # fail now rather than after the queue
        if run_id in self._runs:
            raise InvalidParams(f"The run ID {run_id!r} is already in use.")
        run = Run(run_id, self.run_queue_size)
        self._runs[run_id] = run
        try:
            await self._run_lock.acquire()
        except BaseException:
            self._runs.pop(run_id, None)
            raise
        try:
            if run.ended:  # stopped by a restart or destroy while it waited
                self._run_lock.release()
                return run
            # The kernel is taken now: a restart while this run waited replaced it. A query
            # is sent at once, not from the task below: no loop turn before the kernel has it.
            work = (
                self._batch_work(run, batch)
                if batch
                else start_query(run, self.require_kernel(), code, silent=silent)
            )
        except BaseException:
            self._run_lock.release()
            self._runs.pop(run_id, None)
            raise
        self.num_queries += 1
        run.task = asyncio.create_task(self._drive(run, work))
        return run

    async def _batch_work(self, run: Run, options: BatchOptions) -> None:
        runner = StepRunner(run, self.work_dir, self.env)
        self._batch_runners.add(runner)
        try:
            await run_batch(runner, options)
        finally:
            self._batch_runners.discard(runner)

    async def _drive(self, run: Run, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            run.end(ABORTED_EXIT)
            raise
        except Exception as exc:
            log.exception("run %s of session %s failed", run.run_id, self.name)
            run.end(1, f"The server failed to run this code: {exc}\n")
        finally:
            run.end(1)
            self._run_lock.release()

    async def interrupt(self) -> None:
        for runner in list(self._batch_runners):
            runner.signal(signal.SIGINT)
        if self.kernel is not None and self.kernel.alive:
            await self.kernel.interrupt()

    async def complete(self, code: str, cursor_pos: int) -> list[str]:
        try:
            return await self.require_kernel().complete(code, cursor_pos)
        except KernelDied as exc:
            raise KernelUnavailable(f"The session's kernel died ({exc}).") from exc

    def note(self, text: str) -> None:
        """Add a line of the server's own to the session's console log."""
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        with self.log_file.open("a") as log_out:
            log_out.write(f"[{stamp}] bai-bridge: {text}\n")

    def logs(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- terminal ---------------------------------------------------------------------------

    async def get_terminal(self, spawn: Callable[[Path, Mapping[str, str]], Awaitable[T]]) -> T:
        """The session's terminal, spawned on first use or after it ended."""
        async with self._terminal_lock:
            if self.terminal is None or not self.terminal.alive:
                if self.status not in (Status.RUNNING, Status.ERROR):
                    raise KernelUnavailable(f"The session {self.name} is {self.status}.")
                self.terminal = await spawn(self.work_dir, self.env)
            # Every terminal of a session comes from the same `spawn` (the server's Terminal).
            return cast(T, self.terminal)

    async def close_terminal(self) -> None:
        async with self._terminal_lock:
            terminal, self.terminal = self.terminal, None
        if terminal is not None:
            with contextlib.suppress(Exception):
                await terminal.close()
