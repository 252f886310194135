"""The client's exception tree and the one table that maps HTTP answers to it (protocol doc §6).

`BackendAPIError` carries what the server said (status and the problem+json fields);
`BackendClientError` means the server could not be reached or the exchange broke, and is
always raised ``from`` the underlying aiohttp/OS error.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = [
    "BackendAPIError",
    "BackendAuthError",
    "BackendClientError",
    "BackendConflictError",
    "BackendError",
    "BackendForbiddenError",
    "BackendInvalidParamsError",
    "BackendNotFoundError",
    "BackendRateLimitError",
    "BackendServerError",
    "BackendStreamBroken",
    "BackendUnavailableError",
    "TransferError",
    "api_error_from_body",
]

PROBLEM_BASE = "https://api.backend.ai/probs/"


class BackendError(Exception):
    """Base of every error this client raises."""


class BackendClientError(BackendError):
    """The request did not get an HTTP answer (connection refused, reset, timed out, ...)."""


class BackendStreamBroken(BackendClientError):
    """A stream the server had accepted (execute, PTY) broke or ended before its end: the
    server was reached, so the network path and the endpoint are fine."""


class BackendAPIError(BackendError):
    """The server answered with a non-2xx status.

    ``type`` is the problem slug without the ``https://api.backend.ai/probs/`` prefix (e.g.
    ``session-not-found``); ``msg`` is the detail text (older managers put it in ``title``).
    """

    def __init__(
        self,
        status: int,
        type: str,
        title: str,
        msg: str | None = None,
        data: Any = None,
        body: Any = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.msg = msg
        self.data = data
        self.body = body
        super().__init__(status, type, title, msg)

    def __str__(self) -> str:
        detail = f": {self.msg}" if self.msg else ""
        return f"{self.status} {self.type} ({self.title}){detail}"


class BackendInvalidParamsError(BackendAPIError):
    """400: the request's parameters were refused."""


class BackendAuthError(BackendAPIError):
    """400 invalid-auth-params / 401 auth-failed: keys, signature or clock are wrong."""


class BackendForbiddenError(BackendAPIError):
    """403: not allowed for this key."""


class BackendNotFoundError(BackendAPIError):
    """404: no such session, image, group or URL (the type tells which)."""


class BackendConflictError(BackendAPIError):
    """400 session-already-exists / kernel-already-exists (``data.existingSessionId``)."""


class BackendRateLimitError(BackendAPIError):
    """429: the key's rolling request budget is spent."""


class BackendServerError(BackendAPIError):
    """5xx: the manager or an agent failed (``body['agent-details']`` may say why)."""


class BackendUnavailableError(BackendServerError):
    """503: the manager is frozen or not running."""


# Problem slugs that decide the class on their own, whatever the status.
_BY_TYPE: dict[str, type[BackendAPIError]] = {
    "invalid-auth-params": BackendAuthError,
    "auth-failed": BackendAuthError,
    "kernel-already-exists": BackendConflictError,
    "session-already-exists": BackendConflictError,
}

_BY_STATUS: dict[int, type[BackendAPIError]] = {
    400: BackendInvalidParamsError,
    401: BackendAuthError,
    403: BackendForbiddenError,
    404: BackendNotFoundError,
    429: BackendRateLimitError,
    503: BackendUnavailableError,
}


def _error_class(status: int, slug: str) -> type[BackendAPIError]:
    if slug in _BY_TYPE:
        return _BY_TYPE[slug]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return BackendServerError if status >= 500 else BackendAPIError


def api_error_from_body(status: int, reason: str, raw: bytes) -> BackendAPIError:
    """Build the exception for a non-2xx answer from its raw body (problem+json or not)."""
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = raw.decode("utf-8", "replace")
        return _error_class(status, "")(status, "generic-error", reason, text or None, None, text)
    slug = str(body.get("type") or "generic-error").removeprefix(PROBLEM_BASE)
    title = str(body.get("title") or reason)
    msg = body.get("msg")
    if msg is None and isinstance(body.get("agent-details"), dict):
        msg = body["agent-details"].get("title")
    cls = _error_class(status, slug)
    return cls(status, slug, title, None if msg is None else str(msg), body.get("data"), body)


class TransferError(BackendError):
    """An upload or download could not be completed as asked (checksum, archive, refusal)."""
