"""Typed request payloads and their parsing from the wire (protocol doc §3).

The wire accepts several spellings per field, and which fields exist depends on the API
version. Each body goes through one table (wire names -> attribute name, first version)
and then through one strict cattrs converter; any mismatch is an `InvalidParams`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs
import cattrs

from bai_bridge.local.errors import BodySchemaInvalid, InvalidParams
from bai_bridge.local.versioning import V9, ApiVersion

T = TypeVar("T")

SessionType = Literal["interactive", "batch"]
ClusterMode = Literal["single-node", "multi-node"]
ExecMode = Literal["query", "batch", "continue", "input", "complete"]

NAME_PATTERN = re.compile(r"^(?=.{4,64}$)\w[\w.-]*\w$", re.ASCII)
VALIDATION_ERROR = "Input validation error"
# Session priorities a manager accepts (24.09 and 26.x: 0 to 100, default 10).
PRIORITY_RANGE = range(0, 101)
# Ports the container's own services use; no manager lets preopen_ports take them.
RESERVED_PORTS = frozenset({2000, 2001, 2200, 7681})
# 24.09 checked preopen ports with Int[1024:65535]; 26.x only checks them against RESERVED_PORTS.
PREOPEN_RANGE_UNTIL = V9
PREOPEN_RANGE = range(1024, 65536)


@attrs.frozen
class WireField:
    name: str
    wire: tuple[str, ...]
    since: str = "v4.20181215"
    until: str | None = None  # first version that no longer accepts it

    def accepts(self, version: ApiVersion) -> bool:
        if not version.at_least(self.since):
            return False
        return self.until is None or not version.at_least(self.until)


def _f(name: str, *wire: str, since: str = "v4.20181215", until: str | None = None) -> WireField:
    return WireField(name, wire or (name,), since, until)


CREATE_FIELDS = (
    _f("name", "clientSessionToken", until="v5.20191215"),
    _f("name", "name", "clientSessionToken", "session_name", since="v5.20191215"),
    _f("image", "image", "lang"),
    _f("config", "config"),
    _f("tag", "tag"),
    _f("type", "type", "sessionType", since="v4.20190615"),
    _f("group", "group", "groupName", "group_name", since="v4.20190615"),
    _f("domain", "domain", "domainName", "domain_name", since="v4.20190615"),
    _f("enqueue_only", "enqueueOnly", since="v4.20190615"),
    _f("max_wait_seconds", "maxWaitSeconds", since="v4.20190615"),
    _f("reuse_if_exists", "reuseIfExists", since="v4.20190615"),
    _f("startup_command", "startupCommand", since="v4.20190615"),
    _f("owner_access_key", "owner_access_key", since="v4.20190615"),
    _f("starts_at", "starts_at", "startsAt", since="v5.20191215"),
    _f("bootstrap_script", "bootstrap_script", "bootstrapScript", since="v5.20191215"),
    _f("cluster_size", "clusterSize", "cluster_size", since="v6.20200815"),
    _f("cluster_mode", "clusterMode", "cluster_mode", since="v6.20200815"),
    _f("dependencies", "dependencies", since="v6.20220315"),
    _f("callback_url", "callback_url", "callbackUrl", "callbackURL", since="v6.20220315"),
    _f("architecture", "architecture", "arch", since="v6.20220315"),
    _f("priority", "priority", since="v8.20240915"),
    _f("job_priority", "job_priority", since=V9),
    _f("is_preemptible", "is_preemptible", since=V9),
    _f("batch_timeout", "batch_timeout", "batchTimeout", since=V9),
)

CONFIG_FIELDS = (
    _f("mounts", "mounts"),
    _f("environ", "environ"),
    _f("cluster_size", "clusterSize", "cluster_size", until="v6.20200815"),
    _f("scaling_group", "scalingGroup", "scaling_group"),
    _f("resources", "resources"),
    _f("resource_opts", "resource_opts", "resourceOpts"),
    _f("mount_map", "mount_map", "mountMap", since="v5.20191215"),
    _f("preopen_ports", "preopen_ports", "preopenPorts", since="v5.20191215"),
    _f("mount_options", "mount_options", since="v6.20200815", until=V9),
    _f("mount_options", "mount_options", "mountOptions", since=V9),
    _f("agent_list", "agent_list", "agentList", since="v6.20200815"),
    _f("mount_ids", "mount_ids", since=V9),
    _f("mount_id_map", "mount_id_map", "mountIdMap", since=V9),
    _f("attach_network", "attach_network", "attachNetwork", since=V9),
)


@attrs.frozen
class MountOption:
    """Per-folder options of ``config.mount_options`` (26.x ``MountOption``)."""

    mount_destination: str | None = None
    type: Literal["volume", "bind", "tmpfs", "overlay", "k8s-generic", "k8s-hostpath"] = "bind"
    permission: Literal["ro", "rw", "wd"] | None = None
    subpath: str | None = None


MOUNT_OPTION_FIELDS = (
    _f("mount_destination", "mount_destination", since=V9),
    _f("type", "type"),
    _f("permission", "permission", "perm"),
    _f("subpath", "subpath", since=V9),
)


@attrs.frozen
class CreateConfig:
    mounts: list[str] = attrs.Factory(list)
    environ: dict[str, str] = attrs.Factory(dict)
    cluster_size: int = 1
    scaling_group: str | None = None
    resources: dict[str, Any] = attrs.Factory(dict)
    resource_opts: dict[str, Any] = attrs.Factory(dict)
    mount_map: dict[str, str] = attrs.Factory(dict)
    preopen_ports: list[int] = attrs.Factory(list)
    mount_options: dict[str, MountOption] = attrs.Factory(dict)
    agent_list: list[str] | None = None
    mount_ids: list[uuid.UUID] = attrs.Factory(list)
    mount_id_map: dict[uuid.UUID, str] = attrs.Factory(dict)
    attach_network: uuid.UUID | None = None


@attrs.frozen
class CreateRequest:
    name: str
    image: str
    config: CreateConfig = attrs.Factory(CreateConfig)
    tag: str | None = None
    type: SessionType = "interactive"
    group: str = "default"
    domain: str = "default"
    enqueue_only: bool = False
    max_wait_seconds: int = 0
    reuse_if_exists: bool = True
    startup_command: str | None = None
    owner_access_key: str | None = None
    starts_at: str | None = None
    bootstrap_script: str | None = None
    cluster_size: int = 1
    cluster_mode: ClusterMode = "single-node"
    dependencies: list[str] | None = None
    callback_url: str | None = None
    architecture: str | None = None
    priority: int | None = None
    job_priority: int = 0
    is_preemptible: bool = True
    batch_timeout: int | None = None


@attrs.frozen
class BatchOptions:
    clean: str | None = None
    build: str | None = None
    exec: str | None = None
    build_log: bool = False


BATCH_OPTION_FIELDS = (
    _f("clean", "clean"),
    _f("build", "build"),
    _f("exec", "exec"),
    _f("build_log", "buildLog"),
)


@attrs.frozen
class ExecuteRequest:
    mode: ExecMode
    run_id: str | None
    code: str = ""
    options: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen
class CompleteOptions:
    row: int = 0
    col: int = 0
    line: str = ""
    post: str = ""


@attrs.frozen
class CompleteRequest:
    code: str = ""
    options: CompleteOptions = attrs.Factory(CompleteOptions)


@attrs.frozen
class DownloadRequest:
    files: list[str]


@attrs.frozen
class ListFilesRequest:
    path: str = "."


def _strict(kind: type[Any]) -> Any:
    def hook(value: Any, _: Any) -> Any:
        # bool is an int in Python; JSON true is not a number here.
        ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    return hook


def _uuid(value: Any, _: Any) -> uuid.UUID:
    if not isinstance(value, str):
        raise TypeError(f"expected a UUID string, got {type(value).__name__}")
    return uuid.UUID(value)  # ValueError names the bad text


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for kind in (str, int, bool, float):
        converter.register_structure_hook(kind, _strict(kind))
    converter.register_structure_hook(uuid.UUID, _uuid)
    return converter


CONVERTER = make_converter()


def structure(
    data: Mapping[str, Any], cls: type[T], error: type[InvalidParams] = InvalidParams
) -> T:
    try:
        return CONVERTER.structure(data, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        raise error(VALIDATION_ERROR, _error_data(cattrs.transform_error(exc))) from exc


def _error_data(messages: Sequence[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for message in messages:
        text, _, where = message.rpartition(" @ ")
        key = where.removeprefix("$").lstrip(".") or "body"
        data[key] = text or message
    return data


def rename(
    body: Mapping[str, Any],
    fields: Sequence[WireField],
    version: ApiVersion,
    *,
    where: str = "",
    lenient: bool = False,
) -> dict[str, Any]:
    """Map wire names to attribute names; nulls mean the default.

    Unknown keys are an error up to v8 (the 24.09 manager's trafaret schemas) unless
    ``lenient``; from v9 they are ignored, as the 26.x manager's pydantic request models
    (default ``extra="ignore"``) do.
    """
    lookup = {wire: f.name for f in fields if f.accepts(version) for wire in f.wire}
    unknown = [key for key in body if key not in lookup]
    if unknown and not lenient and not version.at_least(V9):
        data = {where + key: f"{key} is not allowed key" for key in unknown}
        raise InvalidParams(VALIDATION_ERROR, data)
    return {lookup[k]: v for k, v in body.items() if k in lookup and v is not None}


def require_object(body: Any, what: str = "body") -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidParams(VALIDATION_ERROR, {what: "must be a JSON object"})
    return body


def parse_create(body: Any, version: ApiVersion) -> CreateRequest:
    # 26.x answers a body that fails its request model with generic-bad-request, and a bad
    # ``config`` with invalid-api-params; older managers answer both with invalid-api-params.
    error = BodySchemaInvalid if version.at_least(V9) else InvalidParams
    fields = rename(require_object(body), CREATE_FIELDS, version)
    for required in ("name", "image"):
        if required not in fields:
            raise error(VALIDATION_ERROR, {required: "is required"})
    config = parse_config(fields.pop("config", {}), version)
    if "batch_timeout" in fields:
        fields["batch_timeout"] = timeout_seconds(fields["batch_timeout"], error)
    request = attrs.evolve(structure(fields, CreateRequest, error), config=config)
    check_create(request, version)
    return request


def parse_config(body: Any, version: ApiVersion) -> CreateConfig:
    fields = rename(require_object(body, "config"), CONFIG_FIELDS, version, where="config.")
    options = require_object(fields.get("mount_options", {}), "config.mount_options")
    # Both managers ignore a mount option's keys they do not know (trafaret ignore_extra,
    # pydantic extra="allow").
    fields["mount_options"] = {
        key: rename(
            require_object(value, f"config.mount_options.{key}"),
            MOUNT_OPTION_FIELDS,
            version,
            lenient=True,
        )
        for key, value in options.items()
    }
    return structure({"config": fields}, _ConfigHolder).config


@attrs.frozen
class _ConfigHolder:
    """Puts ``config.`` in front of the config's error locations."""

    config: CreateConfig


def timeout_seconds(value: Any, error: type[InvalidParams]) -> int:
    """A batch timeout as 26.x reads it: seconds as a number, or text such as "300" or "5m"."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError("must be a number or a string")
        if isinstance(value, str):
            unit = value[-1:] if value[-1:] in units else ""
            seconds = int(float(value.removesuffix(unit)) * units.get(unit, 1))
        else:
            seconds = int(value)
        if seconds < 0:
            raise ValueError("must be positive")
    except ValueError as exc:
        raise error(VALIDATION_ERROR, {"batch_timeout": str(exc)}) from None
    return seconds


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name):
        raise InvalidParams(
            VALIDATION_ERROR, {"name": "must be 4-64 letters, digits, '_', '.' or '-'"}
        )


def check_create(request: CreateRequest, version: ApiVersion) -> None:
    check_name(request.name)
    if version.major >= 5 and request.name == "from-template":
        raise InvalidParams(VALIDATION_ERROR, {"name": "'from-template' is reserved"})
    if request.type == "batch" and not request.startup_command:
        raise InvalidParams("Batch sessions must have a non-empty startup command.")
    if request.max_wait_seconds < 0:
        raise InvalidParams(VALIDATION_ERROR, {"maxWaitSeconds": "must be 0 or more"})
    if request.priority is not None and request.priority not in PRIORITY_RANGE:
        error = BodySchemaInvalid if version.at_least(V9) else InvalidParams
        raise error(VALIDATION_ERROR, {"priority": "must be 0 to 100"})
    cluster_size = request.cluster_size if version.major >= 6 else request.config.cluster_size
    if cluster_size < 1:
        raise InvalidParams(VALIDATION_ERROR, {"clusterSize": "must be 1 or more"})
    if cluster_size > 1:
        raise InvalidParams("This server runs single-container sessions only (clusterSize 1).")
    check_preopen_ports(request.config.preopen_ports, version)


def check_preopen_ports(ports: Sequence[int], version: ApiVersion) -> None:
    if not version.at_least(PREOPEN_RANGE_UNTIL):
        outside = [p for p in ports if p not in PREOPEN_RANGE]
        if outside:
            raise InvalidParams(VALIDATION_ERROR, {"config.preopen_ports": "must be 1024-65535"})
    reserved = sorted(set(ports) & RESERVED_PORTS)
    if reserved:
        raise InvalidParams(
            f"preopen_ports {reserved} collide with reserved ports ({sorted(RESERVED_PORTS)})."
        )


def parse_execute(body: Any) -> ExecuteRequest:
    body = require_object(body)
    mode = body.get("mode")
    if not mode:
        raise InvalidParams("mode is missing or empty!")
    if mode not in ("query", "batch", "continue", "input", "complete"):
        raise InvalidParams("mode has an invalid value.")
    if "runId" not in body:
        raise InvalidParams("runId is missing!")
    fields = {
        "mode": mode,
        "run_id": body["runId"],
        "code": body.get("code") or "",
        "options": body.get("options") or {},
    }
    unknown = set(body) - {"mode", "runId", "code", "options"}
    if unknown:
        raise InvalidParams(VALIDATION_ERROR, {k: f"{k} is not allowed key" for k in unknown})
    request = structure(fields, ExecuteRequest)
    if request.mode in ("continue", "input") and request.run_id is None:
        raise InvalidParams("continuation requires explicit run ID")
    return request


def parse_batch_options(options: Mapping[str, Any], version: ApiVersion) -> BatchOptions:
    fields = rename(require_object(options, "options"), BATCH_OPTION_FIELDS, version)
    return structure(fields, BatchOptions)


def parse_complete(body: Any) -> CompleteRequest:
    body = dict(require_object(body))
    body.pop("mode", None)  # legacy `execute` with mode "complete"
    body.pop("runId", None)
    if body.get("options") is None:
        body.pop("options", None)
    if body.get("code") is None:
        body.pop("code", None)
    return structure(body, CompleteRequest)


RENAME_KEYS = ("session_name", "name", "clientSessionToken")


def parse_rename(body: Any, query: Mapping[str, str]) -> str:
    """The new name: from the JSON body (26.x), or the query the official client sends it in
    (24.09 read a body-less request's parameters from its query)."""
    source = query if body is None else require_object(body)
    name = next((source[k] for k in RENAME_KEYS if source.get(k) is not None), None)
    if not isinstance(name, str):
        raise InvalidParams(VALIDATION_ERROR, {"name": "is required (a string)"})
    return name


def parse_download(body: Any, query_files: list[str]) -> DownloadRequest:
    if body is None and query_files:
        return DownloadRequest(files=query_files)
    fields = dict(require_object(body))
    if "files" not in fields:
        raise InvalidParams(VALIDATION_ERROR, {"files": "is required"})
    return structure(fields, DownloadRequest)


def parse_list_files(body: Any) -> ListFilesRequest:
    if body is None:
        return ListFilesRequest()
    return structure(dict(require_object(body)), ListFilesRequest)
