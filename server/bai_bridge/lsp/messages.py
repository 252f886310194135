"""Errors translated once, for a person: what went wrong and what to do about it."""

from __future__ import annotations

from bai_bridge.api import (
    APIConfigError,
    BackendAPIError,
    BackendAuthError,
    BackendClientError,
    BackendNotFoundError,
)
from bai_bridge.api.errors import (
    BackendRateLimitError,
    BackendStreamBroken,
    BackendUnavailableError,
    TransferError,
)

from .landing import LocalChanged
from .session import NotStarted, SessionUnavailable

__all__ = ["describe_error"]


def describe_error(action: str, error: BaseException) -> str:
    """One sentence or two for window/showMessage: ``action`` is what we were doing."""
    return f"bai-bridge: {action} failed: {_what(error)}"


def _what(error: BaseException) -> str:
    if isinstance(error, SessionUnavailable):
        return (
            "cannot reach the session server now; bai-bridge keeps retrying and shows the "
            "session as running again when it is back."
        )
    if isinstance(error, BackendAuthError):
        return (
            f"{error}. Check BACKEND_ACCESS_KEY / BACKEND_SECRET_KEY and that this machine's "
            "clock is right (requests are signed with the current time)."
        )
    if isinstance(error, BackendNotFoundError):
        return f"{error}. The session or image is gone; the next action creates a new session."
    if isinstance(error, BackendRateLimitError):
        return f"{error}. The key's request budget is spent; wait a minute and retry."
    if isinstance(error, BackendUnavailableError):
        return f"{error}. The manager is not accepting work now; retry later."
    if isinstance(error, BackendAPIError) and error.status == 413:
        detail = (error.msg or error.title).rstrip(".")
        return (
            f"the code is too large for the session server ({detail}). Run a smaller "
            "selection, or put the data in a file and upload it."
        )
    if isinstance(error, BackendAPIError | TransferError | LocalChanged | NotStarted):
        return _sentence(str(error))
    if isinstance(error, BackendStreamBroken):
        return (
            f"the session server ended the connection early ({error}). It was reached, so the "
            "network and BACKEND_ENDPOINT are fine; its log may say why. Retry the action."
        )
    if isinstance(error, BackendClientError):
        return (
            f"cannot reach the session server ({error}). Check BACKEND_ENDPOINT or the "
            "network; bai-bridge keeps retrying."
        )
    if isinstance(error, APIConfigError):
        return f"{error}. Fix the setting and restart the language server."
    if isinstance(error, OSError):
        return f"{error.strerror or error} ({getattr(error, 'filename', '') or ''})."
    return f"{type(error).__name__}: {error}"


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."
