"""A session's files: upload, download and listing, confined to its work dir (§3.9–§3.11).

Every client path goes through `confine` (a 400 problem for `..` escapes, absolute paths,
NUL bytes, empty names and symlinks leading out); files are then reached from the work
dir's descriptor without following symlinks, so nothing outside is read or written.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bai_bridge.local.files_download import send_download
from bai_bridge.local.files_limits import FileLimits
from bai_bridge.local.files_paths import (
    confine,
    locate,
    open_dir_beneath,
    open_root,
    open_work_dir,
    plain_parts,
)
from bai_bridge.local.files_upload import multipart_reader, receive_upload

__all__ = [
    "FileLimits",
    "confine",
    "list_files",
    "multipart_reader",
    "receive_upload",
    "send_download",
]


def list_files(work_dir: Path, path: str, *, mounts: Sequence[Path] = ()) -> dict[str, Any]:
    """The §3.11 answer for the directory `path`. Blocking: call it in a thread.

    Like the real agent, a directory that cannot be listed is not an HTTP error: `files`
    is empty and `errors` says why. `mounts`: the folders mounted in the work dir.
    """
    try:
        dir_fd = _open_listed(work_dir, path or ".", mounts)
        try:
            entries = (_entry(dir_fd, name) for name in sorted(os.listdir(dir_fd)))
            files = [e for e in entries if e is not None]
        finally:
            os.close(dir_fd)
        errors = ""
    except OSError as e:
        files, errors = [], f"{type(e).__name__}: {e.strerror}: {path!r}\n"
    return {"files": json.dumps(files), "errors": errors, "abspath": path}


def _open_listed(work_dir: Path, path: str, mounts: Sequence[Path]) -> int:
    """The directory to list: walked from the work dir following no symlink, or, when a
    symlink (a mounted folder) or a ``..`` is on the way, located by `locate`'s check."""
    parts = plain_parts(path)
    if parts is not None:
        root_fd = open_work_dir(work_dir)
        try:
            return open_dir_beneath(root_fd, parts)
        except OSError as e:
            if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
        finally:
            os.close(root_fd)
    located = locate(work_dir, path, mounts=mounts)
    root_fd = open_root(located.root)
    try:
        return open_dir_beneath(root_fd, located.parts)
    finally:
        os.close(root_fd)


def _entry(dir_fd: int, name: str) -> dict[str, Any] | None:
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:  # removed since the directory was read
        return None
    return {
        "mode": stat.filemode(st.st_mode),
        "size": st.st_size,
        "ctime": st.st_ctime,
        "mtime": st.st_mtime,
        "atime": st.st_atime,
        "filename": name,
    }
