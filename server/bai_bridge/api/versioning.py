"""API version strings and what each version changes on the wire (protocol doc §1, §8)."""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "CLIENT_API_VERSION",
    "ApiVersion",
    "manager_version_tuple",
    "parse_api_version",
]

_VERSION_RE = re.compile(r"^v(\d+)\.(\d{8})$")


class ApiVersion(NamedTuple):
    """``v<major>.<YYYYMMDD>`` as a comparable tuple, like the official client's."""

    major: int
    date: str

    def __str__(self) -> str:
        return f"v{self.major}.{self.date}"

    @property
    def path_prefix(self) -> str:
        """REST and stream path family: ``kernel`` up to v4, ``session`` from v5."""
        return "kernel" if self.major <= 4 else "session"

    @property
    def name_field(self) -> str:
        """The create request's session-name field."""
        return "clientSessionToken" if self.major <= 4 else "name"

    @property
    def top_level_cluster_size(self) -> bool:
        return self >= (6, "20200815")


def parse_api_version(text: str) -> ApiVersion:
    """Parse ``v8.20240915``; raise ValueError with the offending text otherwise."""
    match = _VERSION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"not an API version (want v<major>.<YYYYMMDD>): {text!r}")
    return ApiVersion(int(match[1]), match[2])


def manager_version_tuple(text: str | None) -> tuple[int, ...] | None:
    """``"24.09.14"`` -> (24, 9, 14); None when absent or unparsable (e.g. ``"unknown"``)."""
    if not text:
        return None
    parts = re.findall(r"\d+", text.split("+")[0])
    return tuple(int(p) for p in parts[:3]) or None


CLIENT_API_VERSION = ApiVersion(9, "20250722")
