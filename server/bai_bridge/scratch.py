"""Scratch folders in the system's temp folder, named after the process that made them.

A process that is killed (SIGKILL, an editor giving up on a slow shutdown) cleans up nothing,
and its folders would stay forever: the embedded server's data (a copy of the workspace) and
kernels' socket folders. Each start removes this user's folders whose process is gone.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

__all__ = ["make_scratch_dir", "process_alive", "sweep_in_background", "sweep_stale"]

log = logging.getLogger(__name__)


def make_scratch_dir(kind: str, root: Path | None = None) -> Path:
    """A new private (0700) folder ``bai-bridge-<kind>-<pid>-<random>`` in the temp folder."""
    return Path(tempfile.mkdtemp(prefix=f"bai-bridge-{kind}-{os.getpid()}-", dir=root))


def sweep_stale(kind: str, root: Path | None = None) -> list[Path]:
    """Remove this user's ``kind`` scratch folders whose process has ended (blocking)."""
    pattern = re.compile(rf"bai-bridge-{re.escape(kind)}-(\d+)-")
    removed = []
    with os.scandir(root or tempfile.gettempdir()) as entries:
        for entry in entries:
            match = pattern.match(entry.name)
            if match is None or not entry.is_dir(follow_symlinks=False):
                continue
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            if process_alive(int(match.group(1))):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def sweep_in_background(*kinds: str) -> None:
    """`sweep_stale` on a daemon thread: a start never waits for it."""

    def sweep() -> None:
        for kind in kinds:
            try:
                removed = sweep_stale(kind)
            except OSError as e:
                log.warning("could not clear stale %s folders: %s", kind, e)
                continue
            if removed:
                log.info("removed %d %s folders left by ended processes", len(removed), kind)

    threading.Thread(target=sweep, name="bai-bridge-sweep", daemon=True).start()


def process_alive(pid: int) -> bool:
    """Whether a process `pid` exists (someone else's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
