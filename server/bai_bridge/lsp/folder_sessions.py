"""The session as one workspace folder's sync sees it: every call gets the kernel seen from
the folder's place in the session (`api.folder_view`), so a sync works with paths relative
to its folder wherever that folder goes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from bai_bridge.api import Kernel
from bai_bridge.api.folder_view import in_folder

from .session import SessionManager

__all__ = ["FolderSessions", "SessionCalls"]

T = TypeVar("T")


class SessionCalls(Protocol):
    """What a sync asks of the session manager."""

    @property
    def busy(self) -> bool: ...

    async def call(self, fn: Callable[[Kernel], Awaitable[T]]) -> T: ...


class FolderSessions:
    def __init__(self, sessions: SessionManager, place: str) -> None:
        self.sessions = sessions
        self.place = place  # relative to the work dir; "" is the work dir itself

    @property
    def busy(self) -> bool:
        return self.sessions.busy

    async def call(self, fn: Callable[[Kernel], Awaitable[T]]) -> T:
        return await self.sessions.call(lambda kernel: fn(in_folder(kernel, self.place)))
