"""Typed request payloads and their parsing from the wire (protocol doc §3).

The wire accepts several spellings per field, and which fields exist depends on the API
version. Each body goes through one table (wire names -> attribute name, first version)
and then through one strict cattrs converter; any mismatch is an `InvalidParams`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

import attrs
import cattrs

from bai_bridge.local.errors import InvalidParams
from bai_bridge.local.versioning import ApiVersion

T = TypeVar("T")

SessionType = Literal["interactive", "batch"]
ClusterMode = Literal["single-node", "multi-node"]
ExecMode = Literal["query", "batch", "continue", "input", "complete"]

NAME_PATTERN = re.compile(r"^(?=.{4,64}$)\w[\w.-]*\w$", re.ASCII)
VALIDATION_ERROR = "Input validation error"


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
    _f("mount_options", "mount_options", since="v6.20200815"),
    _f("agent_list", "agent_list", "agentList", since="v6.20200815"),
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
    mount_options: dict[str, Any] = attrs.Factory(dict)
    agent_list: list[str] | None = None


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


def make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)
    for kind in (str, int, bool, float):
        converter.register_structure_hook(kind, _strict(kind))
    return converter


CONVERTER = make_converter()


def structure(data: Mapping[str, Any], cls: type[T]) -> T:
    try:
        return CONVERTER.structure(data, cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        raise InvalidParams(VALIDATION_ERROR, _error_data(cattrs.transform_error(exc))) from exc


def _error_data(messages: Sequence[str]) -> dict[str, str]:
    data: dict[str, str] = {}
    for message in messages:
        text, _, where = message.rpartition(" @ ")
        key = where.removeprefix("$").lstrip(".") or "body"
        data[key] = text or message
    return data


def rename(
    body: Mapping[str, Any], fields: Sequence[WireField], version: ApiVersion, *, where: str = ""
) -> dict[str, Any]:
    """Map wire names to attribute names; unknown keys are an error, nulls mean the default."""
    lookup = {wire: f.name for f in fields if f.accepts(version) for wire in f.wire}
    unknown = [key for key in body if key not in lookup]
    if unknown:
        data = {where + key: f"{key} is not allowed key" for key in unknown}
        raise InvalidParams(VALIDATION_ERROR, data)
    return {lookup[key]: value for key, value in body.items() if value is not None}


def require_object(body: Any, what: str = "body") -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise InvalidParams(VALIDATION_ERROR, {what: "must be a JSON object"})
    return body


def parse_create(body: Any, version: ApiVersion) -> CreateRequest:
    fields = rename(require_object(body), CREATE_FIELDS, version)
    for required in ("name", "image"):
        if required not in fields:
            raise InvalidParams(VALIDATION_ERROR, {required: "is required"})
    if "config" in fields:
        config = require_object(fields["config"], "config")
        fields["config"] = rename(config, CONFIG_FIELDS, version, where="config.")
    request = structure(fields, CreateRequest)
    check_create(request, version)
    return request


def check_create(request: CreateRequest, version: ApiVersion) -> None:
    if not NAME_PATTERN.match(request.name):
        raise InvalidParams(
            VALIDATION_ERROR, {"name": "must be 4-64 letters, digits, '_', '.' or '-'"}
        )
    if version.major >= 5 and request.name == "from-template":
        raise InvalidParams(VALIDATION_ERROR, {"name": "'from-template' is reserved"})
    if request.type == "batch" and not request.startup_command:
        raise InvalidParams("Batch sessions must have a non-empty startup command.")
    if request.max_wait_seconds < 0:
        raise InvalidParams(VALIDATION_ERROR, {"maxWaitSeconds": "must be 0 or more"})
    cluster_size = request.cluster_size if version.major >= 6 else request.config.cluster_size
    if cluster_size < 1:
        raise InvalidParams(VALIDATION_ERROR, {"clusterSize": "must be 1 or more"})
    if cluster_size > 1:
        raise InvalidParams("This server runs single-container sessions only (clusterSize 1).")


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
