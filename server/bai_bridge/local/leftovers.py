"""What a killed server leaves in its data dir, removed at the next start (blocking).

A server stopped normally removes each session's folder and every upload's temporary files;
one that was killed (SIGKILL, a crash, a power cut) leaves ``sessions/<id>`` (the work dir,
a copy of what the person uploaded) and ``.bai-upload-*`` files in the mounted vfolders for
good. Each session folder and each temporary file names the process that made it, so a
start removes only what a process that is gone left: another server running on the same
data dir keeps its own. Vfolders themselves are the person's data and are kept.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

import attrs

from bai_bridge.scratch import process_alive

__all__ = ["OWNER_FILE", "Removed", "mark_owner", "remove_leftovers", "upload_tmp_prefix"]

log = logging.getLogger(__name__)

OWNER_FILE = "server.pid"
# A session folder with no owner mark yet may be one a server is making right now (the mark
# follows the folder): only one this old is taken as left by a server that is gone.
UNMARKED_GRACE = 120.0
# `.bai-upload-<pid>-<token>-<n>`; before the pid was in the name: `.bai-upload-<token>-<n>`.
_UPLOAD_TMP = re.compile(r"\.bai-upload-(?:(\d+)-)?[0-9a-f]{12}-\d+")


@attrs.define
class Removed:
    sessions: int = 0
    upload_files: int = 0


def mark_owner(session_dir: Path) -> None:
    """Record this process as the owner of a session folder it just made."""
    (session_dir / OWNER_FILE).write_text(str(os.getpid()))


def upload_tmp_prefix(token: str) -> str:
    """The start of an upload's temporary file names (see `_UPLOAD_TMP`)."""
    return f".bai-upload-{os.getpid()}-{token}-"


def remove_leftovers(data_dir: Path) -> Removed:
    """Remove the session folders and upload temporary files of ended processes."""
    removed = Removed()
    for session_dir in _entries(data_dir / "sessions"):
        if session_dir.is_dir() and not session_dir.is_symlink() and _orphaned(session_dir):
            shutil.rmtree(session_dir, ignore_errors=True)  # symlinks (mounts) not followed
            removed.sessions += 1
    for dirpath, _, filenames in os.walk(data_dir / "vfolders"):
        for name in filenames:
            match = _UPLOAD_TMP.fullmatch(name)
            if match and (match[1] is None or not process_alive(int(match[1]))):
                Path(dirpath, name).unlink(missing_ok=True)
                removed.upload_files += 1
    if removed.sessions or removed.upload_files:
        log.info(
            "removed what an ended server left: %d session folders, %d upload temporary files",
            removed.sessions,
            removed.upload_files,
        )
    return removed


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except FileNotFoundError:
        return []


def _orphaned(session_dir: Path) -> bool:
    """Whether the process that made the folder is gone (unknown: made before owners were
    recorded, or before the mark was written, by a server since killed)."""
    try:
        pid = int((session_dir / OWNER_FILE).read_text())
    except (OSError, ValueError):
        try:
            return time.time() - session_dir.stat().st_mtime > UNMARKED_GRACE
        except OSError:
            return False  # gone meanwhile
    return pid != os.getpid() and not process_alive(pid)
