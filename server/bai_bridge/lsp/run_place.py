"""Code run from a file (a selection, a cell) runs with the kernel's working directory at the
place of the file's workspace folder, as VS Code's Interactive Window runs a cell at its
file's root folder: relative paths mean in the session what they mean in that folder here.

The kernel has one working directory for every folder, so it is set (one silent query, sent
before the run and waited for, so it runs first) only when the place differs from where
this editor last set it. A one-folder workspace never pays for it: a kernel starts in the
work dir, the first folder's place. What the person's own code does (``os.chdir`` in a cell)
stands until code from another folder runs. Where the kernel's directory is not known (a
session attached to or reused by name: an earlier editor may have moved it), a multi-folder
workspace sets it once; a one-folder one leaves it as the person had it. A move that fails
(a file where the folder's place is) is told once, not on every run while it keeps failing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING

from bai_bridge.api import ExecutionResult, Kernel

from .silent_query import silent_stdout
from .sync_folders import WORK_DIR, session_path

if TYPE_CHECKING:
    from .runs import RunHooks, Starter
    from .session import SessionManager
    from .sync_folders import SyncFolders

__all__ = ["KernelPlace", "chdir_code"]

log = logging.getLogger(__name__)

_DONE = "bai-bridge: in place"
# Run as its own exec, so it defines no name in the user's namespace; the work dir is the one
# the kernel started in (the embedded server's session folder; /home/work on a cluster), as
# run_file_in_kernel.locate has it. A place sync has not made yet is made: the run is there.
# A failure prints its reason: a query's traceback never reaches the editor.
_CHDIR = f"""\
import os, sys
shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
path = os.path.join(getattr(shell, "starting_dir", None) or "/home/work", PLACE)
try:
    os.makedirs(path, exist_ok=True)
    os.chdir(path)
    print({_DONE!r})
except OSError as e:
    print(e)
"""


def chdir_code(place: str) -> str:
    """Query code moving the kernel to ``place`` (relative to the work dir): one statement
    whose value is None, so ``_`` and ``Out`` stay as they were."""
    return f"exec({_CHDIR!r}, {{'PLACE': {place!r}}})\n"


class KernelPlace:
    """Where this editor last set the kernel's working directory: a folder's place, or None
    for not known."""

    def __init__(self, folders: SyncFolders, tell: Callable[[str], None]) -> None:
        self.folders = folders
        self._tell = tell
        self._told: set[str] = set()  # places whose move failed, said so, and still fails
        self._kernel: Kernel | None = None
        self._place: str | None = None
        self._lock = asyncio.Lock()  # one change at a time: each knows where the other left it

    def attach(self, sessions: SessionManager) -> None:
        async def on_ready(kernel: Kernel, reason: str) -> None:
            if reason == "restarted":  # the same kernel object, started again in the work dir
                self._kernel, self._place = kernel, WORK_DIR

        sessions.on_ready.append(on_ready)

    def starter(self, place: str | None, start: Starter) -> Starter:
        """``start`` run in ``place`` (None: wherever the kernel is, e.g. an untitled file)."""

        async def in_place(kernel: Kernel, hooks: RunHooks) -> AsyncIterator[ExecutionResult]:
            if place is not None:
                await self.enter(kernel, place)
            async for result in start(kernel, hooks):
                yield result

        return in_place

    async def enter(self, kernel: Kernel, place: str) -> None:
        async with self._lock:
            if kernel is not self._kernel:  # a session new to this editor
                self._kernel = kernel
                self._place = WORK_DIR if kernel.created else None
            if place == self._place or (self._place is None and self._alone(place)):
                return
            self._place = None  # until it is done: a cancelled or failed change is redone
            # Never interrupts (silent_stdout): queued behind another client's cell, it waits,
            # as the run behind it would; the person's cancel of the run ends the wait.
            said = await silent_stdout(kernel, chdir_code(place), None)
            if _DONE in said:
                self._place = place
                self._told.discard(place)
            else:
                self._failed(place, said.strip())

    def _failed(self, place: str, reason: str) -> None:
        log.warning("could not move the kernel to %r: %r", place or ".", reason)
        if place in self._told:
            return
        self._told.add(place)
        name = next((f.root.name for f in self.folders if f.place == place), place)
        self._tell(
            f"bai-bridge: code from {name} runs where the kernel is, not in {session_path(place)}: "
            f"{reason or 'moving there failed'}. Each run tries again; this is said once."
        )

    def _alone(self, place: str) -> bool:
        """The one folder, at the work dir: the kernel's directory is the person's."""
        return place == WORK_DIR and len(self.folders) == 1
