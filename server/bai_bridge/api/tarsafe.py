"""Extract a downloaded tar archive without letting any member escape ``dest``.

Every member is checked before anything is written: no absolute names, no ``..`` that
leaves ``dest`` (also through symlinks already in ``dest``), no symlinks or hard links
pointing outside, no device files or FIFOs. Extraction then also runs under the standard
library's ``data`` filter as a second guard.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path, PurePosixPath

from .errors import TransferError

__all__ = ["check_members", "safe_extract"]


def _inside(dest: str, target: str) -> bool:
    return os.path.commonpath([dest, target]) == dest


def _check_member(member: tarfile.TarInfo, dest: str) -> None:
    name = member.name
    if PurePosixPath(name).is_absolute() or os.path.isabs(name):
        raise TransferError(f"refusing archive member with an absolute path: {name!r}")
    target = os.path.realpath(os.path.join(dest, name))
    if not _inside(dest, target):
        raise TransferError(f"refusing archive member outside the destination: {name!r}")
    if member.isdev() or member.isfifo():
        raise TransferError(f"refusing device or FIFO archive member: {name!r}")
    if member.issym():
        link = member.linkname
        resolved = os.path.realpath(os.path.join(os.path.dirname(target), link))
        if os.path.isabs(link) or not _inside(dest, resolved):
            raise TransferError(f"refusing symlink pointing outside: {name!r} -> {link!r}")
    elif member.islnk():
        resolved = os.path.realpath(os.path.join(dest, member.linkname))
        if os.path.isabs(member.linkname) or not _inside(dest, resolved):
            raise TransferError(f"refusing hard link pointing outside: {name!r}")
    elif not (member.isfile() or member.isdir()):
        raise TransferError(f"refusing archive member of unsupported type: {name!r}")


def check_members(archive: tarfile.TarFile, dest: Path) -> list[tarfile.TarInfo]:
    """All members, after checking each one; raises `TransferError` on the first bad one."""
    root = os.path.realpath(dest)
    members = archive.getmembers()
    for member in members:
        _check_member(member, root)
    return members


def safe_extract(archive_path: Path, dest: Path) -> list[str]:
    """Extract ``archive_path`` into ``dest`` (created if missing); returns member names.

    Blocking: call it in a worker thread.
    """
    try:
        with tarfile.open(archive_path) as archive:
            members = check_members(archive, dest)
            dest.mkdir(parents=True, exist_ok=True)
            archive.extractall(dest, members=members, filter="data")
    except tarfile.TarError as e:
        raise TransferError(f"the server sent an unreadable archive: {e}") from e
    return [m.name for m in members]
