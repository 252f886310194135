"""Backend.AI compute-session API client (the seed's `Kernel` API on aiohttp + cattrs).

async with APISession() as api:  # settings from BACKEND_*, or APISession(APIConfig(...))
    kernel = await api.Kernel.get_or_create("python:3.11")
    async for result in kernel.run("print(1)"):
        ...
"""

from .config import APIConfig, APIConfigError
from .errors import (
    BackendAPIError,
    BackendAuthError,
    BackendClientError,
    BackendError,
    BackendNotFoundError,
    BackendServerError,
    TransferError,
)
from .events import EventStream
from .kernel import Kernel
from .models import BatchOptions, CompletionOptions, ExecutionResult, SessionEvent
from .pty import StreamPty
from .session import APISession
from .session_list import SessionPage, SessionSummary, list_sessions
from .stream_execute import ExecuteStream
from .versioning import CLIENT_API_VERSION, ApiVersion

__all__ = [
    "CLIENT_API_VERSION",
    "APIConfig",
    "APIConfigError",
    "APISession",
    "ApiVersion",
    "BackendAPIError",
    "BackendAuthError",
    "BackendClientError",
    "BackendError",
    "BackendNotFoundError",
    "BackendServerError",
    "BatchOptions",
    "CompletionOptions",
    "EventStream",
    "ExecuteStream",
    "ExecutionResult",
    "Kernel",
    "SessionEvent",
    "SessionPage",
    "SessionSummary",
    "StreamPty",
    "TransferError",
    "list_sessions",
]
