"""A tar archive of one path inside the work dir, built without following any symlink.

The walk goes from directory descriptor to directory descriptor with ``O_NOFOLLOW``, so a
symlink inside the tree is stored as a symlink (its target is never read) and one swapped
in during the walk is refused. Only regular files are read; FIFOs and devices are stored
as metadata; sockets are left out.

A single regular file is sent as header, the file itself and padding, with no copy; a
directory's archive goes to an anonymous temporary file and stops growing past the limit.
"""

from __future__ import annotations

import logging
import os
import stat
import tarfile
import tempfile
from typing import IO, Any

import attrs

from bai_bridge.local.files_paths import Located, open_dir_beneath, open_root

log = logging.getLogger(__name__)

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TYPES = {
    stat.S_IFREG: tarfile.REGTYPE,
    stat.S_IFDIR: tarfile.DIRTYPE,
    stat.S_IFLNK: tarfile.SYMTYPE,
    stat.S_IFIFO: tarfile.FIFOTYPE,
    stat.S_IFCHR: tarfile.CHRTYPE,
    stat.S_IFBLK: tarfile.BLKTYPE,
}


class ArchiveTooLarge(Exception):
    """The archive grew past the limit; building stopped there."""


class _LimitedWriter:
    """A write-only file that raises `ArchiveTooLarge` once more than `limit` bytes arrive."""

    def __init__(self, file: IO[bytes], limit: int) -> None:
        self.file, self.limit, self.size = file, limit, 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise ArchiveTooLarge
        return self.file.write(data)


@attrs.define
class TarPart:
    """A tar archive ready to send: `head`, then `body_size` bytes of `file`, then `tail`."""

    file: IO[bytes]
    body_size: int
    head: bytes = b""
    tail: bytes = b""

    @property
    def size(self) -> int:
        return len(self.head) + self.body_size + len(self.tail)

    def close(self) -> None:
        self.file.close()


def tar_of(path: Located, limit: int) -> TarPart:
    """The tar of a confined path, stored under the base name the client used.

    Raises `FileNotFoundError` if it is missing and `ArchiveTooLarge` past `limit` bytes.
    Blocking: run it in a thread.
    """
    single = single_file(path, limit)
    if single is not None:
        return single
    archive = build_tar(path, limit)
    return TarPart(archive, archive.seek(0, os.SEEK_END) - archive.seek(0))


def single_file(path: Located, limit: int) -> TarPart | None:
    """A regular file's tar, described rather than copied; None for anything else."""
    if not path.parts:
        return None
    parent_fd = _open_parent(path)
    try:
        st = os.stat(path.parts[-1], dir_fd=parent_fd, follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            return None
        file = _open_regular(parent_fd, path.parts[-1], st)
    finally:
        os.close(parent_fd)
    try:
        return _describe(file, path.name, limit)
    except BaseException:
        file.close()
        raise


def _describe(file: IO[bytes], name: str, limit: int) -> TarPart:
    """What tarfile would write for this one file: header, data, padding, end blocks."""
    opened = os.fstat(file.fileno())
    head = _info(name, opened, tarfile.REGTYPE).tobuf(
        tarfile.DEFAULT_FORMAT, tarfile.ENCODING, "surrogateescape"
    )
    padding = -opened.st_size % tarfile.BLOCKSIZE + 2 * tarfile.BLOCKSIZE
    padding += -(len(head) + opened.st_size + padding) % tarfile.RECORDSIZE
    part = TarPart(file, opened.st_size, head, bytes(padding))
    if part.size > limit:
        raise ArchiveTooLarge
    return part


def _open_parent(path: Located) -> int:
    root_fd = open_root(path.root)
    try:
        return open_dir_beneath(root_fd, path.parts[:-1])
    finally:
        os.close(root_fd)


def build_tar(path: Located, limit: int) -> IO[bytes]:
    """`tar_of` written out to a temporary file, positioned at its start."""
    out = tempfile.TemporaryFile()  # noqa: SIM115  (returned open on success)
    try:
        parent_fd = _open_parent(path)
        try:
            name = path.parts[-1] if path.parts else "."
            writer: Any = _LimitedWriter(out, limit)
            with tarfile.open(fileobj=writer, mode="w|") as tar:
                _add(tar, parent_fd, name, path.name, top=True)
        finally:
            os.close(parent_fd)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out


@attrs.define
class _Entry:
    """One member ready to be written: its header, and an open file or directory if any."""

    info: tarfile.TarInfo
    file: IO[bytes] | None = None
    dir_fd: int | None = None
    children: list[str] = attrs.Factory(list)


def _add(tar: tarfile.TarFile, dir_fd: int, name: str, arcname: str, *, top: bool = False) -> None:
    try:
        entry = _open_entry(dir_fd, name, arcname)
    except OSError as e:
        if top:
            raise
        # Changed or unreadable while we walk: leave it out and keep the rest.
        log.info("download: leaving out %s: %s", arcname, e)
        return
    if entry is None:
        return
    if entry.file is not None:
        with entry.file:
            tar.addfile(entry.info, entry.file)
    elif entry.dir_fd is not None:
        try:
            tar.addfile(entry.info)
            for child in entry.children:
                _add(tar, entry.dir_fd, child, f"{arcname}/{child}")
        finally:
            os.close(entry.dir_fd)
    else:
        tar.addfile(entry.info)


def _open_entry(dir_fd: int, name: str, arcname: str) -> _Entry | None:
    """Stat and open `name` without following a symlink; None for a socket."""
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    kind = _TYPES.get(stat.S_IFMT(st.st_mode))
    if kind is None:
        return None
    entry = _Entry(_info(arcname, st, kind))
    if kind == tarfile.SYMTYPE:
        entry.info.linkname = os.readlink(name, dir_fd=dir_fd)
    elif kind == tarfile.DIRTYPE:
        entry.dir_fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
        try:
            entry.children = sorted(os.listdir(entry.dir_fd))
        except BaseException:
            os.close(entry.dir_fd)
            raise
    elif kind == tarfile.REGTYPE:
        entry.file = _open_regular(dir_fd, name, st)
        entry.info.size = os.fstat(entry.file.fileno()).st_size
    return entry


def _open_regular(dir_fd: int, name: str, st: os.stat_result) -> IO[bytes]:
    file = open(os.open(name, _FILE_FLAGS, dir_fd=dir_fd), "rb")  # noqa: SIM115
    opened = os.fstat(file.fileno())
    if not stat.S_ISREG(opened.st_mode) or opened.st_ino != st.st_ino:
        file.close()
        raise FileNotFoundError(f"{name} was replaced while archiving")
    return file


def _info(arcname: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = st.st_uid, st.st_gid
    info.mtime = int(st.st_mtime)
    info.size = st.st_size if kind == tarfile.REGTYPE else 0
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return info
