"""`Kernel`: the seed's compute-session API (``ai.backend.client.kernel.Kernel``), typed.

The class is bound to one `APISession` (``api.Kernel``), never to a global. Method names,
parameters and defaults follow the seed; results are attrs classes from `models`. Requests
follow the negotiated API version (protocol doc §8): ``/kernel`` paths and
``clientSessionToken`` up to v4, ``/session`` and ``name`` from v5, top-level ``clusterSize``
from v6.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import aiohttp

from . import runloop
from .errors import BackendAPIError, BackendServerError
from .models import (
    BatchOptions,
    CompletionOptions,
    ContainerLogs,
    CreatedSession,
    DestroyResult,
    ExecutionResult,
    FileListing,
    SessionInfo,
    batch_options_payload,
    completion_options_payload,
    converter,
)
from .opening import Opening
from .runloop import InputCallback

if TYPE_CHECKING:
    from .events import EventStream
    from .models import DownloadResult, UploadResult
    from .pty import StreamPty
    from .session import APISession
    from .stream_execute import ExecuteStream
    from .transfer import ProgressCallback
    from .upload import StagedFile
    from .versioning import ApiVersion

__all__ = ["EXECUTE_MODES", "Kernel", "bind_kernel", "execute_mode"]

log = logging.getLogger(__name__)

_NAME_RE = re.compile(r"^(?=.{4,64}$)\w[\w.-]*\w$", re.ASCII)
_ARCH_ALIASES = {"amd64": "x86_64", "x86-64": "x86_64", "arm64": "aarch64"}
EXECUTE_MODES = frozenset({"query", "batch", "continue", "input"})
# The seed documents "user-input"; every manager only knows "input" (protocol doc §4.5).
_MODE_ALIASES = {"user-input": "input"}
# How long a spare execute WebSocket waits for a run before it is closed: under the common
# 60 s idle timeout of proxies in front of managers (one closed cleanly while unread would
# only be noticed by the run that takes it), and so that a quiet session holds no open
# stream a manager could count as activity against its idle reclaim.
SPARE_LIFETIME = 45.0
# Execute WebSockets kept connected. A connection takes two round trips (TCP, then the
# upgrade) and serves one run, so with one spare a run started within two round trips of the
# last one's start waited for the rest of its handshake (Run Cell again at once, 20 ms of 85
# at 50 ms RTT); with two, one is ready while the other connects.
SPARES = 2


def execute_mode(mode: str) -> str:
    """The wire name of an `execute` mode; ValueError for one no server knows."""
    wire = _MODE_ALIASES.get(mode, mode)
    if wire not in EXECUTE_MODES:
        known = sorted(EXECUTE_MODES | _MODE_ALIASES.keys())
        raise ValueError(f"invalid execution mode {mode!r}: one of {known}")
    return wire


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Mark a background task's failure as seen (it is reported when the task is used)."""
    if not task.cancelled():
        task.exception()


async def _close_spare(task: asyncio.Task[aiohttp.ClientWebSocketResponse]) -> None:
    if task.done() and not task.cancelled() and task.exception() is None:
        await task.result().close()
    else:
        task.cancel()  # still connecting (or failed): aiohttp releases the connection


def bind_kernel(session: APISession) -> type[Kernel]:
    """A `Kernel` subclass whose class methods and instances talk through ``session``."""
    return type("Kernel", (Kernel,), {"session": session})


def _completions(body: Any) -> list[str] | None:
    """Candidates from any of the answer shapes seen in the wild; None = unsupported.

    ``{"result": [...]}`` (the docs), ``{"result": {"completions": [...]}}`` (runners before
    25.10), ``{"result": {"status", "error", "suggestions": [...]}}`` (26.x managers).
    """
    result = body.get("result") if isinstance(body, dict) else None
    if isinstance(result, dict):
        result = result.get("suggestions", result.get("completions"))
    if not isinstance(result, list):
        return None
    return [str(item) for item in result]


class Kernel:
    """One compute session ("kernel" in the seed's words) of the bound `APISession`.

    ``kernel_id`` is the session name the client chose (the seed's name for it);
    ``session_id`` is the server's UUID (API v5 and later), used for streams when known.
    ``completion_supported`` is None until `complete` learns whether the server answers;
    ``execute_stream_supported`` is False once the server refused a run's WebSocket.
    """

    session: ClassVar[APISession]

    def __init__(
        self,
        kernel_id: str,
        *,
        session_id: str | None = None,
        owner_access_key: str | None = None,
        created: bool = True,
        status: str = "RUNNING",
        service_ports: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        self.kernel_id = kernel_id
        self.session_id = session_id
        self.owner_access_key = owner_access_key
        self.created = created
        self.status = status
        self.service_ports = [dict(p) for p in service_ports]
        self.completion_supported: bool | None = None
        self.execute_stream_supported: bool | None = None
        self.keep_execute_socket = False
        self._spares: list[asyncio.Task[aiohttp.ClientWebSocketResponse]] = []

    def __repr__(self) -> str:
        return f"<Kernel {self.kernel_id} session_id={self.session_id} status={self.status}>"

    @property
    def name(self) -> str:
        return self.kernel_id

    # -- creation -------------------------------------------------------------------------

    @classmethod
    async def get_or_create(
        cls,
        image: str,
        *,
        client_token: str | None = None,
        type_: str = "interactive",
        enqueue_only: bool = False,
        max_wait: int = 0,
        no_reuse: bool = False,
        mounts: Sequence[str] | None = None,
        envs: Mapping[str, str] | None = None,
        startup_command: str | None = None,
        resources: Mapping[str, Any] | None = None,
        resource_opts: Mapping[str, Any] | None = None,
        cluster_size: int = 1,
        domain_name: str | None = None,
        group_name: str | None = None,
        tag: str | None = None,
        scaling_group: str | None = None,
        owner_access_key: str | None = None,
    ) -> Self:
        """Create a session, or reuse the running one with the same name and image.

        ``client_token`` is the session name (4-64 characters: letters, digits, ``_`` at both
        ends, ``.``/``-`` inside); a fresh one is generated when None. The request does not
        wait for the version negotiation (`APISession.open`): a session starts one round trip
        sooner on a new connection.
        """
        version = cls.session.api_version
        if client_token is None:
            client_token = (
                uuid.uuid4().hex if version.major <= 4 else f"bai-{uuid.uuid4().hex[:10]}"
            )
        if not _NAME_RE.match(client_token):
            raise ValueError(
                f"invalid session name {client_token!r}: 4-64 characters, letters, digits "
                "or '_' at both ends, '.' and '-' allowed inside"
            )
        if cluster_size < 1:
            raise ValueError(f"cluster_size must be at least 1, not {cluster_size}")
        fields = dict(
            type_=type_,
            enqueue_only=enqueue_only,
            max_wait=max_wait,
            no_reuse=no_reuse,
            mounts=[*(mounts or ()), *cls.session.config.vfolder_mounts],
            envs=envs,
            startup_command=startup_command,
            resources=dict(resources or {}),
            resource_opts=dict(resource_opts or {}),
            cluster_size=cluster_size,
            domain_name=domain_name or cls.session.config.domain,
            group_name=group_name or cls.session.config.group,
            tag=tag,
            scaling_group=scaling_group,
            owner_access_key=owner_access_key,
        )
        try:
            return await cls._create(version, image, client_token, fields)
        except BackendAPIError as e:
            # Sent before `GET /` had answered, in our newest version: a manager that does
            # not know it says 400 ("Unsupported API version", protocol doc §1.2), a v4 one
            # has no /session (404). Sent again once, in the version negotiated meanwhile.
            negotiated = await cls.session.negotiated()
            if e.status not in (400, 404) or negotiated == version:
                raise
            log.info("the create in %s was refused (%s); sending it in %s", version, e, negotiated)
            return await cls._create(negotiated, image, client_token, fields)

    @classmethod
    async def _create(
        cls, version: ApiVersion, image: str, client_token: str, fields: dict[str, Any]
    ) -> Self:
        body = cls._create_body(version, image, client_token, **fields)
        owner_access_key = fields["owner_access_key"]
        path = "/kernel/create" if version.major <= 4 else "/session"
        query = {"owner_access_key": owner_access_key} if owner_access_key else None
        raw = await cls.session.fetch_json(
            "POST", path, query=query, json_body=body, version=version
        )
        created = converter.structure(raw or {}, CreatedSession)
        name = (created.kernel_id or client_token) if version.major <= 4 else client_token
        return cls(
            name,
            session_id=created.session_id if version.major >= 5 else None,
            owner_access_key=owner_access_key,
            created=created.created,
            status=created.status,
            service_ports=created.service_ports,
        )

    @classmethod
    def _create_body(cls, version: ApiVersion, image: str, name: str, **p: Any) -> dict[str, Any]:
        """The create body for ``version``, with the official client's keys."""
        config: dict[str, Any] = {
            "mounts": p["mounts"],
            "environ": dict(p["envs"]) if p["envs"] is not None else None,
            "resources": p["resources"],
            "resource_opts": p["resource_opts"],
            "scalingGroup": p["scaling_group"],
        }
        body: dict[str, Any] = {"tag": p["tag"], version.name_field: name, "config": config}
        if version >= (6, "20220315"):
            machine = platform.machine().lower()
            body.update(dependencies=None, callback_url=None)
            body["architecture"] = _ARCH_ALIASES.get(machine, machine)
        if version.top_level_cluster_size:
            body.update(clusterSize=p["cluster_size"], clusterMode="single-node")
        else:
            config["clusterSize"] = p["cluster_size"]
        if version.major >= 5:
            body.update(starts_at=None, bootstrap_script=None)
            config.update(mount_map={}, preopen_ports=None)
        body.update(
            owner_access_key=p["owner_access_key"],
            domain=p["domain_name"],
            group=p["group_name"],
            type=p["type_"],
            enqueueOnly=p["enqueue_only"],
            maxWaitSeconds=p["max_wait"],
            reuseIfExists=not p["no_reuse"],
            startupCommand=p["startup_command"],
            image=image,
        )
        return body

    # -- paths: what helpers outside this class use to address the session ----------------

    def request_path(self, suffix: str = "") -> str:
        """``/{kernel|session}/{name}{suffix}`` for the negotiated version (e.g. ``/files``)."""
        return f"/{self.session.api_version.path_prefix}/{self.kernel_id}{suffix}"

    def request_query(self, **extra: str) -> dict[str, str]:
        """The query every session request carries (``owner_access_key`` if set) + ``extra``."""
        query = {"owner_access_key": self.owner_access_key} if self.owner_access_key else {}
        return {**query, **extra}

    def stream_path(self, name: str) -> str:
        """``/stream/{kernel|session}/{sid}/{name}`` (``pty``, ``execute``)."""
        return f"/stream/{self.session.api_version.path_prefix}/{self.stream_id}/{name}"

    @property
    def stream_id(self) -> str:
        """The ``{sid}`` of stream paths: the UUID when known (v5+), else the name."""
        if self.session_id and self.session.api_version.major >= 5:
            return self.session_id
        return self.kernel_id

    # -- lifecycle ------------------------------------------------------------------------

    async def destroy(self, *, forced: bool = False) -> DestroyResult:
        """Terminate the session; its last statistics are returned."""
        query = self.request_query(**({"forced": "true"} if forced else {}))
        raw = await self.session.fetch_json("DELETE", self.request_path(), query=query)
        return converter.structure(raw if isinstance(raw, dict) else {}, DestroyResult)

    async def restart(self) -> None:
        """Restart the session's container(s), keeping the work directory."""
        async with self.session.request("PATCH", self.request_path(), query=self.request_query()):
            pass

    async def interrupt(self) -> None:
        """Ask the session to interrupt the running code (best effort, like SIGINT)."""
        async with self.session.request(
            "POST", self.request_path("/interrupt"), query=self.request_query()
        ):
            pass

    async def get_info(self) -> SessionInfo:
        raw = await self.session.fetch_json("GET", self.request_path(), query=self.request_query())
        return converter.structure(raw or {}, SessionInfo)

    async def get_logs(self) -> ContainerLogs:
        raw = await self.session.fetch_json(
            "GET", self.request_path("/logs"), query=self.request_query()
        )
        result = raw.get("result") if isinstance(raw, dict) else None
        return converter.structure(result if isinstance(result, dict) else {}, ContainerLogs)

    # -- code -----------------------------------------------------------------------------

    async def complete(
        self, code: str, opts: CompletionOptions | Mapping[str, Any] | None = None
    ) -> list[str]:
        """Completion candidates for ``code`` (an ordered list of strings).

        Real managers answer 500 (19.09, 20.03) or ``{"result": null}`` (24.09): then this
        returns ``[]`` and sets ``completion_supported`` to False, so callers can fall back.
        """
        body = {"code": code, "options": completion_options_payload(opts)}
        path = self.request_path("/complete")
        try:
            raw = await self.session.fetch_json(
                "POST", path, query=self.request_query(), json_body=body
            )
        except BackendServerError as e:
            if e.status != 500:
                raise
            log.info("completion unsupported by this server: %s", e)
            raw = None
        candidates = _completions(raw)
        self.completion_supported = candidates is not None
        return candidates or []

    async def execute(
        self,
        run_id: str | None = None,
        code: str | None = None,
        mode: str = "query",
        opts: BatchOptions | Mapping[str, Any] | None = None,
    ) -> ExecutionResult:
        """One step of the run loop (protocol doc §4): send code, continue, or input.

        Most callers want `run`, which follows the whole loop. ``mode`` is one of
        `EXECUTE_MODES`; the seed's "user-input" is sent as "input".
        """
        mode = execute_mode(mode)
        body: dict[str, Any] = {"mode": mode, "code": code, "runId": run_id}
        if mode == "batch":
            body["code"] = code or ""
            body["options"] = batch_options_payload(opts)
        elif code is None:
            raise ValueError(f"mode {mode!r} needs code (an empty string to continue)")
        elif mode == "query" and isinstance(opts, Mapping) and opts:
            body["options"] = dict(opts)  # e.g. {"silent": true}; a manager ignores them
        raw = await self.session.fetch_json(
            "POST", self.request_path(), query=self.request_query(), json_body=body
        )
        result = raw.get("result") if isinstance(raw, dict) else None
        if not isinstance(result, dict):
            raise BackendServerError(200, "malformed-result", "Execute answer without a result")
        return converter.structure(result, ExecutionResult)

    def run(
        self,
        code: str,
        *,
        mode: str = "query",
        opts: BatchOptions | Mapping[str, Any] | None = None,
        on_input: InputCallback | None = None,
        stream: bool = False,
        interrupt: bool = True,
        on_drop: runloop.DropCallback | None = None,
    ) -> AsyncIterator[ExecutionResult]:
        """Follow the run loop; see `runloop.run_code` (yields every answer as it comes).

        ``stream`` runs over the execute WebSocket where the server takes one; ``interrupt``
        False leaves the session alone when the caller stops early; ``on_drop`` hears of a
        dropped connection the run was continued after."""
        return runloop.run_code(
            self,
            code,
            mode=mode,
            opts=opts,
            on_input=on_input,
            stream=stream,
            interrupt=interrupt,
            on_drop=on_drop,
        )

    # -- files ----------------------------------------------------------------------------

    def work_path(self, path: str | Path) -> str:
        """A relative path as the session's file API reads it (relative to its work dir;
        `folder_view.FolderView` puts its folder in front)."""
        return str(path)

    async def list_files(self, path: str | Path = ".") -> FileListing:
        """Entries of ``path`` (relative to the session's work directory)."""
        raw = await self.session.fetch_json(
            "GET",
            self.request_path("/files"),
            query=self.request_query(),
            json_body={"path": self.work_path(path)},
        )
        return converter.structure(raw or {}, FileListing)

    async def upload(
        self,
        files: Sequence[str | Path],
        basedir: str | Path | None = None,
        show_progress: bool = False,
        *,
        progress: ProgressCallback | None = None,
    ) -> UploadResult:
        """Send local files into the session (see `upload.upload`)."""
        from .upload import upload

        return await upload(self, files, basedir, show_progress=show_progress, progress=progress)

    async def stage_large(
        self, file: str | Path, basedir: str | Path | None = None, *, sha256: str | None = None
    ) -> StagedFile:
        """Send a large file's chunks without putting it in place (see `upload.stage_large`)."""
        from .upload import stage_large

        return await stage_large(self, file, basedir, sha256=sha256)

    async def download(
        self,
        files: Sequence[str | Path],
        dest: str | Path = ".",
        show_progress: bool = False,
        *,
        progress: ProgressCallback | None = None,
    ) -> DownloadResult:
        """Fetch session files into ``dest`` (see `download.download`)."""
        from .download import download

        return await download(self, files, dest, show_progress=show_progress, progress=progress)

    # -- streams: each is awaited (the seed) or entered with `async with` (closed on exit) ---

    def stream_events(
        self,
        scope: str = "*",
        *,
        on_connect: Callable[[], None] | None = None,
        on_drop: Callable[[BaseException], None] | None = None,
    ) -> Opening[EventStream]:
        """Lifecycle events of this session, reconnecting after drops (`events.EventStream`).

        The stream never ends by itself: close it (or leave ``async with``) to stop.
        ``on_connect`` is called whenever the stream is (re)established, ``on_drop`` (with
        the error) whenever it is lost or a reconnect fails.
        """
        from .events import open_session_events

        opening = partial(
            open_session_events, self, scope=scope, on_connect=on_connect, on_drop=on_drop
        )
        return Opening(opening)

    def ready_execute_socket(self) -> None:
        """With ``keep_execute_socket``, connect the next runs' execute WebSockets (`SPARES`)
        now, so that a run over one costs no handshake (§5.3: the server waits for the first
        frame; one connection is one run, so a spare is connected again after each take)."""
        if not self.keep_execute_socket or self.execute_stream_supported is False:
            return
        from .websocket import connect_kernel_stream

        loop = asyncio.get_running_loop()
        while len(self._spares) < SPARES:
            task = asyncio.ensure_future(connect_kernel_stream(self, "execute"))
            task.add_done_callback(_retrieve)
            self._spares.append(task)
            # its wait counts from when it is connected
            task.add_done_callback(lambda t: loop.call_later(SPARE_LIFETIME, self._expire_spare, t))

    def _expire_spare(self, task: asyncio.Task[aiohttp.ClientWebSocketResponse]) -> None:
        if task in self._spares:  # not taken meanwhile: the editor has gone quiet
            self._spares.remove(task)
            drop = asyncio.ensure_future(_close_spare(task))
            drop.add_done_callback(_retrieve)

    async def spare_execute_socket(self) -> aiohttp.ClientWebSocketResponse | None:
        """A spare execute WebSocket: a connected one, else the oldest still connecting
        (waited for); None when there is none or it failed or closed meanwhile: the caller
        connects one itself."""
        for task in [t for t in self._spares if t.done()]:
            self._spares.remove(task)
            if not task.cancelled() and task.exception() is None and not task.result().closed:
                return task.result()
        if not self._spares:
            return None
        task = self._spares.pop(0)
        try:
            ws = await asyncio.shield(task)
        except asyncio.CancelledError:
            task.cancel()
            raise
        except Exception as e:
            log.info("the spare execute WebSocket failed (%s); connecting another", e)
            return None
        return None if ws.closed else ws

    async def drop_execute_socket(self) -> None:
        """Close the spare execute WebSockets (the session is going, or they are unneeded)."""
        spares, self._spares = self._spares, []
        for task in spares:
            await _close_spare(task)

    def stream_pty(self) -> Opening[StreamPty]:
        """Open the session's terminal (see `pty.StreamPty`)."""
        from .pty import open_pty

        return Opening(partial(open_pty, self))

    def stream_execute(
        self,
        code: str = "",
        *,
        mode: str = "query",
        opts: BatchOptions | Mapping[str, Any] | None = None,
        connect_timeout: float | None = None,
    ) -> Opening[ExecuteStream]:
        """Run code over a WebSocket (see `stream_execute.ExecuteStream`)."""
        from .stream_execute import open_execute_stream

        return Opening(
            partial(
                open_execute_stream,
                self,
                code,
                mode=mode,
                opts=opts,
                connect_timeout=connect_timeout,
            )
        )
