"""Where one upload request's parts go: temporary files beside their final places (blocking).

An `UploadTarget` lives for one request and is used from worker threads only. It resolves
the work dir once and keeps each directory it opened, so twenty parts in one folder cost one
walk, not twenty. A plain relative name (no ``..``) is walked component by component from
the work dir's descriptor with ``O_NOFOLLOW``; only when a symlink is in the way (a mounted
folder, a link inside the work dir) does it take `locate`'s resolving check, which refuses
links leading outside. Nothing is renamed into place before `commit`; `close` removes every
temporary file not committed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

import attrs

from bai_bridge.local.files_paths import (
    locate,
    open_dir_beneath,
    open_root,
    open_work_dir,
    path_error,
    plain_parts,
)
from bai_bridge.local.files_threads import SMALL_DIR_BYTES
from bai_bridge.local.leftovers import upload_tmp_prefix
from bai_bridge.local.problems import InvalidAPIParams

__all__ = ["Staged", "UploadTarget", "check_name", "write_all"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@attrs.define
class Staged:
    """One part on its way to `name`: a temporary file in the directory `dir_fd`."""

    name: str
    dir_fd: int  # owned by the target's directory cache
    final_name: str
    tmp_name: str
    file_fd: int = -1
    committed: bool = False


class _SymlinkInTheWay(Exception):
    """The plain walk met a symlink: the resolving check decides instead."""


class UploadTarget:
    """The staging area of one upload request (blocking methods: call them in a thread)."""

    def __init__(self, work_dir: Path, mounts: Sequence[Path] = ()) -> None:
        self.work_dir = work_dir
        self.mounts = mounts
        self.staged: list[Staged] = []
        self.made_dirs: list[tuple[Path, str]] = []
        self._root_fds: dict[Path, int] = {}
        self._dir_fds: dict[tuple[Path, tuple[str, ...]], int] = {}
        # a small directory's entries and whether each is a "dir", "link" or "file" (None:
        # too large to read whole), by descriptor; forgotten when this request makes one
        self._kinds: dict[int, dict[str, str] | None] = {}
        # names the process, so that a start after a crash knows whose files are left over
        self._tmp_prefix = upload_tmp_prefix(secrets.token_hex(6))
        self.closed = False

    # -- staging ------------------------------------------------------------------------

    def stage(self, filename: str) -> Staged:
        """Create the temporary file of the part named `filename` (400 for a bad name)."""
        name = os.path.normpath(filename)
        parts = plain_parts(filename)
        try:
            found = self._plain(name, parts) if parts is not None else None
        except _SymlinkInTheWay:
            found = None
        if found is None:
            found = self._resolved(filename, name)
        dir_fd, final_name = found
        tmp_name = f"{self._tmp_prefix}{len(self.staged)}"
        staged = Staged(name, dir_fd, final_name, tmp_name)
        try:
            staged.file_fd = os.open(tmp_name, _FILE_FLAGS, 0o666, dir_fd=dir_fd)
        except OSError as e:  # e.g. EACCES: the folder is not writable
            raise path_error(filename, e) from e
        self.staged.append(staged)
        return staged

    def write_all(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Stage each (filename, content) received whole, write it and close it."""
        for filename, data in items:
            staged = self.stage(filename)
            write_all(staged.file_fd, data)
            os.close(staged.file_fd)
            staged.file_fd = -1

    def commit(self) -> list[str]:
        """Rename every temporary file into place (each rename atomic); the names."""
        for s in self.staged:
            try:
                os.replace(s.tmp_name, s.final_name, src_dir_fd=s.dir_fd, dst_dir_fd=s.dir_fd)
            except OSError as e:
                raise path_error(s.name, e) from e
            s.committed = True
        return [s.name for s in self.staged]

    def finish(self, items: Sequence[tuple[str, bytes]]) -> list[str]:
        """`write_all` the last parts, `commit`, then `close`: the request's last thread
        hop (a request that fails before still needs `close`)."""
        self.write_all(items)
        names = self.commit()
        self.close()
        return names

    # -- locating -----------------------------------------------------------------------

    def _plain(self, name: str, parts: tuple[str, ...]) -> tuple[int, str]:
        """The walk without resolving: no component may be a symlink."""
        if not parts:
            raise InvalidAPIParams(f"Not a file name: {name!r}")
        try:
            dir_fd = self._dir(self.work_dir, parts[:-1])
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR):  # a symlink (or a file) in the way
                raise _SymlinkInTheWay from e
            raise path_error(name, e) from e
        if self._final_kind(dir_fd, parts[-1], name) == "link":
            raise _SymlinkInTheWay
        return dir_fd, parts[-1]

    def _final_kind(self, dir_fd: int, final_name: str, name: str) -> str:
        """`_final_kind`, from one reading of the directory when it is small."""
        if dir_fd not in self._kinds:
            self._kinds[dir_fd] = _entry_kinds(dir_fd)
        kinds = self._kinds[dir_fd]
        if kinds is None:
            return _final_kind(dir_fd, final_name, name)
        kind = kinds.get(final_name, "absent")
        if kind == "dir":
            raise InvalidAPIParams(f"Cannot overwrite a directory with a file: {name!r}")
        return kind

    def _resolved(self, filename: str, name: str) -> tuple[int, str]:
        """`locate`'s check (symlinks resolved, refused when they lead outside)."""
        located = locate(self.work_dir, filename, mounts=self.mounts)
        if not located.parts:
            raise InvalidAPIParams(f"Not a file name: {filename!r}")
        try:
            dir_fd = self._dir(located.root, located.parts[:-1])
        except OSError as e:
            raise path_error(name, e) from e
        _final_kind(dir_fd, located.parts[-1], name)
        return dir_fd, located.parts[-1]

    def _dir(self, root: Path, parts: tuple[str, ...]) -> int:
        """The directory `parts` below `root` (the work dir or a resolved root), made if
        missing, opened once per request."""
        key = (root, parts)
        fd = self._dir_fds.get(key)
        if fd is None:
            root_fd = self._root_fds.get(root)
            if root_fd is None:
                opener = open_work_dir if root == self.work_dir else open_root
                root_fd = self._root_fds[root] = opener(root)
            made: list[str] = []
            try:
                fd = self._dir_fds[key] = open_dir_beneath(root_fd, parts, create=made)
            finally:
                self.made_dirs.extend((root, rel) for rel in made)
                if made:  # a directory read before may now hold a new folder
                    self._kinds.clear()
        return fd

    # -- cleanup ------------------------------------------------------------------------

    def close(self) -> None:
        """Unlink the temporary files not committed; remove the directories this request
        made if anything failed; close every descriptor. Once is enough."""
        if self.closed:
            return
        self.closed = True
        for s in self.staged:
            if s.file_fd >= 0:
                os.close(s.file_fd)
                s.file_fd = -1
            if not s.committed:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(s.tmp_name, dir_fd=s.dir_fd)
        for fd in [*self._dir_fds.values(), *self._root_fds.values()]:
            os.close(fd)
        self._dir_fds.clear()
        self._root_fds.clear()
        self._kinds.clear()
        if not all(s.committed for s in self.staged):
            _remove_dirs(self.made_dirs)


def check_name(filename: str) -> None:
    """400 for a name that is unsafe or names no file, whatever the file system holds."""
    if plain_parts(filename) == () or os.path.normpath(filename) in (".", ".."):
        raise InvalidAPIParams(f"Not a file name: {filename!r}")
    # A name with a control character (a %01 in the header) is legal on Linux, but no shell
    # or editor shows it as it is.
    if (bad := _CONTROL.search(filename)) is not None:
        raise InvalidAPIParams(
            f"A file name must not contain control characters ({bad[0]!r}): {filename!r}"
        )


def _final_kind(dir_fd: int, final_name: str, name: str) -> str:
    """ "link", "absent" or "file" for the part's final name; 400 for a directory."""
    try:
        st = os.stat(final_name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return "absent"
    if stat.S_ISDIR(st.st_mode):
        raise InvalidAPIParams(f"Cannot overwrite a directory with a file: {name!r}")
    return "link" if stat.S_ISLNK(st.st_mode) else "file"


def _entry_kinds(dir_fd: int) -> dict[str, str] | None:
    """Each entry of a small directory and its kind; None for a large one."""
    if os.fstat(dir_fd).st_size > SMALL_DIR_BYTES:
        return None
    kinds = {}
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if entry.is_symlink():
                kinds[entry.name] = "link"
            elif entry.is_dir(follow_symlinks=False):
                kinds[entry.name] = "dir"
            else:
                kinds[entry.name] = "file"
    return kinds


def write_all(fd: int, data: bytes) -> None:
    """Write all of `data` to `fd` (blocking)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _remove_dirs(made_dirs: list[tuple[Path, str]]) -> None:
    """Remove the directories a failed request created, deepest first, if still empty."""
    for root, rel in reversed(made_dirs):
        *parents, name = rel.split("/")
        try:
            root_fd = open_root(root)
        except OSError:
            continue
        try:
            parent_fd = open_dir_beneath(root_fd, tuple(parents))
        except OSError:
            continue
        finally:
            os.close(root_fd)
        try:
            os.rmdir(name, dir_fd=parent_fd)
        except OSError:
            pass  # not empty (someone else's files) or gone: left as it is
        finally:
            os.close(parent_fd)
