"""All sessions of the server: create (or reuse), look up, destroy (protocol doc §3.0-§3.2)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from bai_bridge.local.ended_logs import EndedLogs, EndedSession, read_tail
from bai_bridge.local.errors import (
    AmbiguousSession,
    InvalidParams,
    KernelFailure,
    NoSuchSession,
    SessionExists,
)
from bai_bridge.local.images import kernel_for_image
from bai_bridge.local.kernel import exit_code_of
from bai_bridge.local.leftovers import mark_owner
from bai_bridge.local.mounts import plan_mounts
from bai_bridge.local.payloads import CreateRequest, check_name
from bai_bridge.local.placement import check_placement
from bai_bridge.local.resources import normalize_resources
from bai_bridge.local.session import KERNEL_DIED, Session, SessionSpec, Status

log = logging.getLogger(__name__)


@attrs.frozen
class Lifecycle:
    """A lifecycle event to publish (v6+ name, e.g. session_started)."""

    name: str
    session: Session
    reason: str = ""
    exit_code: int | None = None


@attrs.frozen
class CreateOutcome:
    session: Session
    created: bool
    status: str


Publish = Callable[[Lifecycle], None]


def base_environment() -> dict[str, str]:
    """The server's environment, with its own Python first on PATH for shells and batch."""
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
    return env


class SessionRegistry:
    def __init__(
        self,
        data_dir: Path,
        kernels: Mapping[str, str],
        publish: Publish,
        *,
        run_queue_size: int = 4096,
        kernel_subshell: bool = True,
    ) -> None:
        self.data_dir = data_dir
        self.sessions_dir = data_dir / "sessions"
        self.vfolders_dir = data_dir / "vfolders"
        self.kernels = kernels
        self.publish = publish
        self.run_queue_size = run_queue_size
        self.kernel_subshell = kernel_subshell
        self._sessions: dict[str, Session] = {}
        self._base_env = base_environment()
        # The one user's groups: "default", and every group a session was created in (there is
        # no group administration here, so naming a group at create time makes it).
        self.groups: set[str] = {"default"}
        self.ended = EndedLogs()

    # -- lookup -----------------------------------------------------------------------------

    def live(self, access_key: str) -> Iterable[Session]:
        return (s for s in self._sessions.values() if s.alive and s.spec.access_key == access_key)

    def by_name(self, access_key: str, name: str) -> Session | None:
        return next((s for s in self.live(access_key) if s.name == name), None)

    def find(self, access_key: str, sid: str, *, exact: bool = False) -> Session:
        """A session by exact name (API v4), or by UUID prefix, then name prefix (v5+)."""
        if exact:
            found = self.by_name(access_key, sid)
            if found is None:
                raise NoSuchSession(sid)
            return found
        sessions = list(self.live(access_key))
        matches = [s for s in sessions if str(s.id).startswith(sid.lower())] if sid else []
        if not matches:
            matches = [s for s in sessions if s.name.startswith(sid)]
        exact_name = [s for s in matches if s.name == sid]
        if len(matches) > 1 and len(exact_name) == 1:
            return exact_name[0]
        if len(matches) > 1:
            described = [{"id": str(s.id), "name": s.name, "status": s.status} for s in matches]
            raise AmbiguousSession(sid, described)
        if not matches:
            raise NoSuchSession(sid)
        return matches[0]

    # -- create -----------------------------------------------------------------------------

    async def create(self, request: CreateRequest, access_key: str) -> CreateOutcome:
        kernel_name = kernel_for_image(request.image, self.kernels)
        existing = self.by_name(access_key, request.name)
        if existing is not None:
            if existing.spec.image != request.image or not request.reuse_if_exists:
                raise SessionExists(request.name, str(existing.id))
            if existing.status == Status.ERROR and existing.status_info == KERNEL_DIED:
                # Reusing a session whose kernel died gives it a new kernel (same work dir).
                await existing.restart()
                self.publish(Lifecycle("kernel_started", existing))
            return CreateOutcome(existing, False, existing.status)
        session = self._new_session(self._spec(request, kernel_name, access_key))
        self.groups.add(request.group)
        if request.enqueue_only:
            return CreateOutcome(session, True, Status.PENDING)
        timeout = request.max_wait_seconds or None
        try:
            await asyncio.wait_for(session.settled.wait(), timeout)
        except TimeoutError:
            return CreateOutcome(session, True, "TIMEOUT")
        return CreateOutcome(session, True, session.status)

    def _spec(self, request: CreateRequest, kernel_name: str, access_key: str) -> SessionSpec:
        config = request.config
        return SessionSpec(
            name=request.name,
            image=request.image,
            kernel_name=kernel_name,
            access_key=access_key,
            type=request.type,
            environ=config.environ,
            resources=normalize_resources(config.resources),
            resource_opts=config.resource_opts,
            mounts=plan_mounts(self.vfolders_dir, config),
            startup_command=request.startup_command,
            bootstrap_script=decode_bootstrap(request.bootstrap_script),
            tag=request.tag,
            domain=request.domain,
            group=request.group,
            architecture=check_placement(request),
            batch_timeout=request.batch_timeout or None,  # 0 means none, as on 26.x
        )

    def _new_session(self, spec: SessionSpec) -> Session:
        session = Session(spec, self.sessions_dir, self._base_env)
        session.run_queue_size = self.run_queue_size
        session.kernel_subshell = self.kernel_subshell
        session.on_kernel_died = self._kernel_died
        self._sessions[str(session.id)] = session
        self.publish(Lifecycle("session_enqueued", session))
        session.run_in_background(self._start(session))
        return session

    def _kernel_died(self, session: Session, exit_code: int | None) -> None:
        # As a container that exits by itself; the session stays, restartable (status ERROR).
        self.publish(Lifecycle("kernel_terminated", session, "self-terminated", exit_code))

    async def _start(self, session: Session) -> None:
        if session.status != Status.PENDING:  # cancelled before it was scheduled
            return
        session.set_status(Status.SCHEDULED)
        self.publish(Lifecycle("session_scheduled", session))
        session.set_status(Status.PREPARING)
        self.publish(Lifecycle("kernel_preparing", session))
        async with session.lifecycle:
            try:
                session.prepare_dirs()
                mark_owner(session.dir)
                if session.spec.bootstrap_script:
                    code = await run_logged(session.spec.bootstrap_script, session)
                    session.note(f"bootstrap script exited with {code}")
                await session.start_kernel()
            except (KernelFailure, OSError) as exc:
                session.set_status(Status.ERROR, str(exc))
                self.publish(Lifecycle("session_failure", session, "kernel-creation-failed", 1))
                return
            session.set_status(Status.RUNNING)
        self.publish(Lifecycle("kernel_started", session))
        self.publish(Lifecycle("session_started", session))
        if session.spec.type == "batch" and session.spec.startup_command:
            session.run_in_background(self._run_batch_task(session, session.spec.startup_command))

    async def _run_batch_task(self, session: Session, command: str) -> None:
        """A batch session runs its startup command, reports the outcome, then ends."""
        if not session.alive:
            return
        try:
            async with asyncio.timeout(session.spec.batch_timeout):
                exit_code = await run_logged(command, session)
        except TimeoutError:  # as an agent reports a batch task past its batch_timeout
            lifecycle = Lifecycle("session_failure", session, "task-timeout", -2)
        else:
            ok = exit_code == 0
            name, reason = (
                ("session_success", "task-success") if ok else ("session_failure", "task-failure")
            )
            lifecycle = Lifecycle(name, session, reason, exit_code)
        if not session.alive:
            return
        self.publish(lifecycle)
        await self.destroy(session, reason="self-terminated")

    def rename(self, session: Session, new_name: str) -> None:
        """Give a running session another name, unique among its owner's (26.x rules)."""
        check_name(new_name)
        other = self.by_name(session.spec.access_key, new_name)
        if other is not None and other is not session:
            raise SessionExists(new_name, str(other.id))
        if session.status != Status.RUNNING:
            raise InvalidParams("Can't change name of not running session")
        session.spec = attrs.evolve(session.spec, name=new_name)

    # -- destroy ----------------------------------------------------------------------------

    async def destroy(
        self, session: Session, *, forced: bool = False, reason: str = "user-requested"
    ) -> dict[str, Any]:
        if session.status in (Status.PENDING, Status.SCHEDULED):
            session.set_status(Status.CANCELLED, reason)
            self._sessions.pop(str(session.id), None)
            self.publish(Lifecycle("session_cancelled", session, reason))
            return {"status": "cancelled"}
        self.publish(Lifecycle("kernel_terminating", session, reason))
        stats = await session.stop(forced=forced)
        session.status_info = reason
        self._sessions.pop(str(session.id), None)
        # The work dir is scratch space, as a container's is; vfolders (mounts) persist.
        logs = await asyncio.to_thread(_retire_dir, session)
        self.ended.add(EndedSession(session.id, session.name, session.spec.access_key, logs))
        self.publish(Lifecycle("kernel_terminated", session, reason))
        self.publish(Lifecycle("session_terminated", session, reason))
        return stats

    async def close(self) -> None:
        """Stop every session (server shutdown)."""
        sessions = [s for s in self._sessions.values() if s.alive]
        results = await asyncio.gather(
            *(self.destroy(s, reason="server-shutdown") for s in sessions), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                log.error("stopping a session failed", exc_info=result)


def _retire_dir(session: Session) -> str:
    """Remove an ended session's folder; its console log's tail (blocking)."""
    logs = read_tail(session.log_file)
    shutil.rmtree(session.dir, ignore_errors=True)
    return logs


def decode_bootstrap(script: str | None) -> str | None:
    """The bootstrap script is sent base64-encoded (protocol doc §3.1)."""
    if not script:
        return None
    try:
        return base64.b64decode(script, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidParams(
            "Input validation error", {"bootstrap_script": "must be base64 text"}
        ) from None


async def run_logged(command: str, session: Session) -> int:
    """Run a shell command in the work dir, appending its output to the session's log."""
    with session.log_file.open("ab") as out:
        process = await asyncio.create_subprocess_shell(
            command,
            cwd=session.work_dir,
            env=session.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        return exit_code_of(await process.wait())
    finally:
        if process.returncode is None:  # cancelled: stop the command and its children
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
