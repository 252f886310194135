"""API version strings and what each one changes (protocol doc §1.2, §8)."""

from __future__ import annotations

import re

import attrs

LATEST_API_VERSION = "v9.20250722"
# The manager release whose behaviour the v9 answers follow (read at lablup/backend.ai 26.8.1).
MANAGER_VERSION = "26.8.1"

# Every version a client may send (protocol doc §1.2); v1-v3 were dropped in manager 20.03.
VALID_VERSIONS = (
    "v4.20181215",
    "v4.20190115",
    "v4.20190315",
    "v4.20190615",
    "v5.20191215",
    "v6.20200815",
    "v6.20210815",
    "v6.20220315",
    "v6.20220615",
    "v6.20230315",
    "v7.20230615",
    "v8.20240315",
    "v8.20240915",
    "v9.20250722",
)
# The version of 26.x managers (the first with mount ids, the completion result object, BINARY
# PTY output frames and pydantic request models that ignore unknown keys).
V9 = "v9.20250722"
_PATTERN = re.compile(r"^v(\d+)\.(\d{8})$")


@attrs.frozen(order=True)
class ApiVersion:
    major: int
    date: str

    @classmethod
    def parse(cls, text: str) -> ApiVersion:
        match = _PATTERN.match(text)
        if match is None:
            raise ValueError(f"not an API version: {text!r}")
        return cls(int(match.group(1)), match.group(2))

    def __str__(self) -> str:
        return f"v{self.major}.{self.date}"

    def at_least(self, text: str) -> bool:
        return self >= ApiVersion.parse(text)


def latest_for_major(major: int) -> ApiVersion | None:
    """The newest accepted version of a major (used when the header is absent)."""
    candidates = [ApiVersion.parse(v) for v in VALID_VERSIONS]
    matching = [v for v in candidates if v.major == major]
    return max(matching) if matching else None


DEFAULT_MAJOR = 5
