"""Typed payloads of the session API and the one converter that maps them to the wire.

The wire mixes ``runId`` with ``owner_access_key``; every rename is spelled out here, and
responses are structured leniently (unknown keys ignored, missing optional keys defaulted),
so newer managers adding fields do not break older clients.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, TypeAlias

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .slots import LiveUsage, SlotAllocation, parse_live_usage, parse_slots

__all__ = [
    "ApiInfo",
    "BatchOptions",
    "CompletionOptions",
    "ConsoleItem",
    "ContainerLogs",
    "CreatedSession",
    "DestroyResult",
    "DownloadResult",
    "ExecutionResult",
    "FileEntry",
    "FileListing",
    "Html",
    "InputOptions",
    "LogRecord",
    "Media",
    "SessionEvent",
    "SessionEventData",
    "SessionInfo",
    "Stderr",
    "Stdout",
    "UnknownConsoleItem",
    "UploadResult",
    "batch_options_payload",
    "completion_options_payload",
    "converter",
    "structure_console",
]

# Statuses after which a run is over (protocol doc §4.2).
FINAL_STATUSES = frozenset({"finished", "exec-timeout"})


@attrs.frozen
class ApiInfo:
    """``GET /``: the server's latest API version and the manager's package version."""

    version: str
    manager: str | None = None


@attrs.frozen
class CreatedSession:
    """The create / get-or-create answer (v4: ``kernelId`` = name; v5+: UUID + name)."""

    status: str = "RUNNING"
    created: bool = True
    session_id: str | None = None
    session_name: str | None = None
    kernel_id: str | None = None
    service_ports: list[dict[str, Any]] = attrs.Factory(list)


@attrs.frozen
class DestroyResult:
    """``DELETE``: the last container statistics (``{"status": "terminated", ...}``)."""

    stats: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class SessionInfo:
    """``GET /session/{sid}``; the manager stringifies several mappings (kept as text)."""

    status: str | None = None
    image: str | None = None
    lang: str | None = None
    domain_name: str | None = None
    group_id: str | None = None
    user_id: str | None = None
    architecture: str | None = None
    registry: str | None = None
    tag: str | None = None
    container_id: str | None = None
    occupied_slots: Any = None
    occupying_slots: Any = None
    requested_slots: Any = None
    occupied_shares: Any = None
    environ: Any = None
    status_info: str | None = None
    age: int | None = None
    creation_time: str | None = None
    termination_time: str | None = None
    num_queries_executed: int | None = None
    last_stat: Any = None

    def allocation(self) -> SlotAllocation | None:
        """The session's slots: what it occupies (24.x), else its main kernel's (older
        managers), else what it asked for (a pending session occupies nothing yet)."""
        for raw in (self.occupying_slots, self.occupied_slots, self.requested_slots):
            slots = parse_slots(raw)
            if slots is not None:
                return slots
        return None

    def usage(self) -> LiveUsage | None:
        return parse_live_usage(self.last_stat)


@attrs.frozen
class ContainerLogs:
    """``GET .../logs``: the container's whole console log."""

    logs: str = ""


@attrs.frozen
class FileEntry:
    filename: str
    mode: str = ""
    size: int = 0
    ctime: float = 0.0
    mtime: float = 0.0
    atime: float = 0.0

    @property
    def is_dir(self) -> bool:
        return self.mode.startswith("d")


@attrs.frozen
class FileListing:
    """``GET .../files``; ``files`` arrives as a JSON-encoded string and is decoded here."""

    files: list[FileEntry] = attrs.Factory(list)
    errors: str = ""
    abspath: str = ""


@attrs.frozen
class UploadResult:
    """Remote paths (relative to the session's work dir) that were written."""

    file_names: list[str] = attrs.Factory(list)


@attrs.frozen
class DownloadResult:
    """Archive member names extracted into ``dest`` (the seed's ``{"file_names": [...]}``)."""

    file_names: list[str] = attrs.Factory(list)


@attrs.frozen
class BatchOptions:
    """Batch-mode steps (protocol doc §4.4); each command runs in the session's work dir."""

    clean: str | None = None
    build: str | None = None
    exec: str | None = None
    build_log: bool = False


@attrs.frozen
class CompletionOptions:
    """Cursor context of a completion request (0-based row/col)."""

    row: int = 0
    col: int = 0
    line: str = ""
    post: str = ""


@attrs.frozen
class InputOptions:
    """``options`` of a ``waiting-input`` result."""

    is_password: bool = False


# Console items (protocol doc §4.3).
@attrs.frozen
class Stdout:
    text: str
    kind: Literal["stdout"] = "stdout"


@attrs.frozen
class Stderr:
    text: str
    kind: Literal["stderr"] = "stderr"


@attrs.frozen
class Media:
    """Rich output: ``mime`` such as ``image/png``; ``data`` as sent (often a data URI)."""

    mime: str
    data: str
    kind: Literal["media"] = "media"


@attrs.frozen
class Html:
    html: str
    kind: Literal["html"] = "html"


@attrs.frozen
class LogRecord:
    data: Any
    kind: Literal["log"] = "log"


@attrs.frozen
class UnknownConsoleItem:
    type: str
    data: Any
    kind: Literal["unknown"] = "unknown"


ConsoleItem: TypeAlias = Stdout | Stderr | Media | Html | LogRecord | UnknownConsoleItem


def structure_console_item(raw: Any) -> ConsoleItem:
    """One ``[type, data]`` pair; anything unexpected is kept as `UnknownConsoleItem`."""
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        return UnknownConsoleItem("malformed", raw)
    kind, data = raw
    if kind in ("stdout", "stderr") and isinstance(data, str):
        return Stdout(data) if kind == "stdout" else Stderr(data)
    if kind == "media" and isinstance(data, list | tuple) and len(data) == 2:
        return Media(str(data[0]), data[1] if isinstance(data[1], str) else json.dumps(data[1]))
    if kind == "html" and isinstance(data, str):
        return Html(data)
    if kind == "log":
        return LogRecord(data)
    return UnknownConsoleItem(str(kind), data)


def structure_console(raw: Any) -> list[ConsoleItem]:
    return [structure_console_item(item) for item in raw or ()]


@attrs.frozen
class ExecutionResult:
    """One execute answer (protocol doc §4.1). ``run_id`` is None on the WebSocket variant."""

    status: str
    run_id: str | None = None
    exit_code: int | None = None
    console: list[ConsoleItem] = attrs.Factory(list)
    options: dict[str, Any] | None = None
    files: list[Any] = attrs.Factory(list)
    msg: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def input_options(self) -> InputOptions:
        return InputOptions(bool((self.options or {}).get("is_password", False)))


@attrs.frozen
class SessionEventData:
    """An event's JSON payload; v4 puts the session *name* in ``sessionId``."""

    session_name: str | None = None
    session_id: str | None = None
    kernel_id: str | None = None
    owner_access_key: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    cluster_role: str | None = None
    cluster_idx: int | None = None


@attrs.frozen
class SessionEvent:
    """A lifecycle event from the SSE stream, e.g. ``session_started``."""

    name: str
    data: SessionEventData
    id: str | None = None
    raw_data: str = ""


def batch_options_payload(opts: BatchOptions | Mapping[str, Any] | None) -> dict[str, Any]:
    """Batch options as the wire wants them (all four keys, as the official client sends)."""
    if opts is None:
        opts = BatchOptions()
    if isinstance(opts, BatchOptions):
        return converter.unstructure(opts)  # type: ignore[no-any-return]
    return {
        "clean": opts.get("clean"),
        "build": opts.get("build"),
        "buildLog": bool(opts.get("buildLog", opts.get("build_log", False))),
        "exec": opts.get("exec"),
    }


def completion_options_payload(
    opts: CompletionOptions | Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Cursor context as the wire wants it (row/col cast to int, as the official client does)."""
    if isinstance(opts, CompletionOptions):
        return converter.unstructure(opts)  # type: ignore[no-any-return]
    opts = opts or {}
    return {
        "row": int(opts.get("row", 0)),
        "col": int(opts.get("col", 0)),
        "line": str(opts.get("line", "")),
        "post": str(opts.get("post", "")),
    }


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=False)
    console_type = list[ConsoleItem]
    conv.register_structure_hook_func(
        lambda t: t == console_type, lambda raw, _: structure_console(raw)
    )
    renames: dict[type[Any], dict[str, str]] = {
        CreatedSession: {
            "session_id": "sessionId",
            "session_name": "sessionName",
            "kernel_id": "kernelId",
        },
        SessionInfo: {
            "domain_name": "domainName",
            "group_id": "groupId",
            "user_id": "userId",
            "container_id": "containerId",
            "occupied_slots": "occupiedSlots",
            "occupying_slots": "occupyingSlots",
            "requested_slots": "requestedSlots",
            "occupied_shares": "occupiedShares",
            "status_info": "statusInfo",
            "creation_time": "creationTime",
            "termination_time": "terminationTime",
            "num_queries_executed": "numQueriesExecuted",
            "last_stat": "lastStat",
        },
        ExecutionResult: {"run_id": "runId", "exit_code": "exitCode"},
        BatchOptions: {"build_log": "buildLog"},
        SessionEventData: {
            "session_name": "sessionName",
            "session_id": "sessionId",
            "kernel_id": "kernelId",
            "owner_access_key": "ownerAccessKey",
            "exit_code": "exitCode",
            "cluster_role": "clusterRole",
            "cluster_idx": "clusterIdx",
        },
    }
    for cls, names in renames.items():
        overrides: dict[str, Any] = {a: override(rename=wire) for a, wire in names.items()}
        conv.register_structure_hook(cls, make_dict_structure_fn(cls, conv, **overrides))
        conv.register_unstructure_hook(cls, make_dict_unstructure_fn(cls, conv, **overrides))
    conv.register_structure_hook(CreatedSession, _structure_created(conv))
    conv.register_structure_hook(FileListing, _structure_listing(conv))
    return conv


def _structure_created(conv: cattrs.Converter) -> Any:
    base = make_dict_structure_fn(
        CreatedSession,
        conv,
        session_id=override(rename="sessionId"),
        session_name=override(rename="sessionName"),
        kernel_id=override(rename="kernelId"),
        service_ports=override(rename="servicePorts"),
    )

    def structure(raw: dict[str, Any], _: Any) -> CreatedSession:
        # Reuse answers of M19.09-M24.09.0 carry only the snake-case key (protocol doc §3.1).
        raw = dict(raw)
        if raw.get("servicePorts") is None:
            raw["servicePorts"] = raw.get("service_ports") or []
        return base(raw, CreatedSession)

    return structure


def _structure_listing(conv: cattrs.Converter) -> Any:
    def structure(raw: dict[str, Any], _: Any) -> FileListing:
        files = raw.get("files") or []
        if isinstance(files, str):
            files = json.loads(files) if files.strip() else []
        return FileListing(
            files=conv.structure(files, list[FileEntry]),
            errors=str(raw.get("errors") or ""),
            abspath=str(raw.get("abspath") or ""),
        )

    return structure


converter = _make_converter()
