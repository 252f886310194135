"""The language server's options: from initializationOptions and workspace/configuration.

Keys are camelCase on the wire (``sessionName``), snake_case accepted too. Each option is
structured on its own through one cattrs converter, so one bad value costs only that value:
its default is used and the problem is reported (once, by the caller).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import cattrs

__all__ = [
    "DEFAULT_EXCLUDES",
    "DEFAULT_IMAGE",
    "SESSION_NAME_RE",
    "BridgeOptions",
    "default_session_name",
    "option_key",
    "parse_options",
]

DEFAULT_IMAGE = "python:3.11-ubuntu22.04"
DEFAULT_EXCLUDES = (
    ".git/",
    ".hg/",
    ".svn/",
    "__pycache__/",
    "*.pyc",
    ".venv/",
    "venv/",
    "node_modules/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".ipynb_checkpoints/",
    ".DS_Store",
)
SESSION_NAME_RE = re.compile(r"^(?=.{4,64}$)\w[\w.-]*\w$", re.ASCII)
CONFIG_SECTION = "baiBridge"


def _session_name(_: Any, __: Any, value: str | None) -> None:
    if value is not None and not SESSION_NAME_RE.match(value):
        raise ValueError(
            "4 to 64 letters, digits, '_', '.' or '-', starting and ending with a letter or digit"
        )


def _positive(_: Any, __: Any, value: float) -> None:
    if value <= 0:
        raise ValueError("must be greater than 0")


@attrs.frozen(kw_only=True)
class BridgeOptions:
    """What a person may set. ``endpoint`` overrides BACKEND_ENDPOINT (keys stay in the env)."""

    endpoint: str | None = None
    image: str = DEFAULT_IMAGE
    resources: dict[str, str | int | float] = attrs.field(factory=dict)
    mounts: tuple[str, ...] = ()
    envs: dict[str, str] = attrs.field(factory=dict)
    session_name: str | None = attrs.field(default=None, validator=_session_name)
    # An existing session (id or name) to work in at start: the editor remembers the one
    # chosen for the folder. Not there any more: a session is started as without it.
    attach_session: str | None = None
    sync_on_start: bool = True
    sync_excludes: tuple[str, ...] = DEFAULT_EXCLUDES
    max_file_size: int = attrs.field(default=50 * 1024 * 1024, validator=_positive)
    completion_timeout: float = attrs.field(default=1.0, validator=_positive)
    namespace_mirror: bool = True  # False: no snapshot after runs (live names come from jedi)
    # Packages only the session has: their sources fetched for static analysis here.
    session_environment: bool = True
    package_max_files: int = attrs.field(default=5000, validator=_positive)
    package_max_mib: float = attrs.field(default=64.0, validator=_positive)
    package_cache_mib: float = attrs.field(default=512.0, validator=_positive)


attrs.resolve_types(BridgeOptions)


def option_key(name: str) -> str:
    """The wire (camelCase) name of a `BridgeOptions` field."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    def strict_str(value: Any, _: type) -> str:
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__}")
        return value

    def scalar(value: Any, _: Any) -> str | int | float:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise TypeError(f"expected a string or a number, got {type(value).__name__}")
        return value

    def strict_bool(value: Any, _: type) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"expected true or false, got {value!r}")
        return value

    converter.register_structure_hook(str, strict_str)
    converter.register_structure_hook(bool, strict_bool)
    converter.register_structure_hook(str | int | float, scalar)
    return converter


def parse_options(*sources: Mapping[str, Any] | None) -> tuple[BridgeOptions, list[str]]:
    """Merge option mappings (later ones win) into options plus a list of problems.

    A mapping may hold the options directly or under a ``baiBridge`` key.
    """
    raw: dict[str, Any] = {}
    for source in sources:
        if isinstance(source, Mapping):
            inner = source.get(CONFIG_SECTION, source)
            raw.update(inner if isinstance(inner, Mapping) else {})
    converter = _converter()
    fields = {f.name: f for f in attrs.fields(BridgeOptions)}
    by_key = {option_key(name): name for name in fields} | {name: name for name in fields}
    values: dict[str, Any] = {}
    problems = []
    for key, value in raw.items():
        name = by_key.get(key)
        if name is None:
            problems.append(f"unknown option {key!r}")
            continue
        if value is None and fields[name].default is None:
            continue
        try:
            values[name] = converter.structure(value, fields[name].type)  # type: ignore[arg-type]
            attrs.evolve(BridgeOptions(), **{name: values[name]})
        except (ValueError, TypeError, cattrs.BaseValidationError) as e:
            values.pop(name, None)
            problems.append(f"{option_key(name)}: {_describe(e)} (using the default)")
    return BridgeOptions(**values), problems


def _describe(error: BaseException) -> str:
    if isinstance(error, cattrs.BaseValidationError):
        return "; ".join(cattrs.transform_error(error))
    return str(error)


def default_session_name(folder: Path | None) -> str:
    """A stable name for the workspace: its folder name plus a short hash of its path.

    Reopening the same folder gives the same name, so the session is reused.
    """
    if folder is None:
        return "bai-bridge-scratch"
    slug = re.sub(r"[^\w.-]+", "-", folder.name, flags=re.ASCII).strip("-._")[:40] or "workspace"
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    return f"{slug}-{digest}"
