"""What a started language server works with, created once at start (lifecycle.py).

Features reach it through ``await ls.services()`` (waits for the start; `NotStarted` says
why there is none) or ``ls.services_now()`` (never waits: None until the start is over),
never through attributes that may still be None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from bai_bridge.api import APISession

    from .completion_engine import CompletionEngine
    from .mirror import NamespaceMirror
    from .run_place import KernelPlace
    from .session import SessionManager
    from .session_packages import SessionPackages
    from .sync_folders import SyncFolders

__all__ = ["Services"]


@attrs.frozen
class Services:
    api: APISession
    sessions: SessionManager
    mirror: NamespaceMirror
    completion: CompletionEngine
    folders: SyncFolders  # one sync per workspace folder
    packages: SessionPackages | None  # the session-only packages' sources; off by setting
    place: KernelPlace  # where runs from a file left the kernel's working directory
