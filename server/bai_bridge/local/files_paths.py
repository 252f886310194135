"""Confining client-supplied paths to a session's work dir (and the folders mounted in it).

`confine` checks a path once (lexically, then with symlinks resolved). Code that then opens
or creates files walks from its root's descriptor one component at a time with
``O_NOFOLLOW`` (`open_dir_beneath`), so a symlink swapped in after the check by the
session's own shell still cannot lead outside.

Mounted folders appear in the work dir as symlinks to folders of the server's data dir
(where a real cluster bind-mounts them); passed as `mounts`, they count as inside.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import attrs

from bai_bridge.local.problems import GenericForbidden, InvalidAPIParams, Problem

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


class PathOutsideWorkDir(InvalidAPIParams):
    """A client path that is malformed or would reach outside the work dir."""


@attrs.frozen
class Located:
    """A confined path: the root it lies in (the work dir or a mount) and its parts below."""

    root: Path
    parts: tuple[str, ...]
    name: str  # the base name the client used, "." for the work dir itself


def confine(work_dir: Path, relpath: str, *, mounts: Sequence[Path] = ()) -> Path:
    """The resolved path `relpath` names inside `work_dir` (or one of the `mounts` linked
    in it); a 400 problem if it is unsafe."""
    return _confine(relpath, _roots(work_dir, mounts))


def locate(work_dir: Path, relpath: str, *, mounts: Sequence[Path] = ()) -> Located:
    """`confine`, telling which root the path lies in and the components below it."""
    roots = _roots(work_dir, mounts)
    target = _confine(relpath, roots)
    root = max((r for r in roots if target.is_relative_to(r)), key=lambda r: len(r.parts))
    name = PurePosixPath(os.path.normpath(relpath)).name or "."
    return Located(root, target.relative_to(root).parts, name)


def _confine(relpath: str, roots: list[Path]) -> Path:
    """`relpath` resolved below the work dir (``roots[0]``); 400 unless inside a root."""
    pure = checked_relative(relpath)
    target = (roots[0] / pure).resolve(strict=False)
    if not any(target.is_relative_to(root) for root in roots):
        raise PathOutsideWorkDir(f"The path leads outside the work directory: {relpath!r}")
    return target


def _roots(work_dir: Path, mounts: Sequence[Path]) -> list[Path]:
    """The work dir and the mounts, resolved (the work dir first)."""
    return [work_dir.resolve(strict=True), *(m.resolve(strict=False) for m in mounts)]


def checked_relative(relpath: str) -> PurePosixPath:
    """`relpath` as a relative path that stays inside (lexically); a 400 problem if not."""
    if not isinstance(relpath, str):
        raise PathOutsideWorkDir(f"A path must be a string, not {type(relpath).__name__}.")
    if "\x00" in relpath:
        raise PathOutsideWorkDir("A path must not contain NUL bytes.")
    if not relpath.strip():
        raise PathOutsideWorkDir("A path must not be empty.")
    pure = PurePosixPath(relpath)
    if pure.is_absolute() or _WINDOWS_DRIVE.match(relpath):
        raise PathOutsideWorkDir(f"Absolute paths are not allowed: {relpath!r}")
    depth = 0
    for part in pure.parts:
        depth += -1 if part == ".." else 1
        if depth < 0:
            raise PathOutsideWorkDir(f"The path leads outside the work directory: {relpath!r}")
    return pure


def plain_parts(relpath: str) -> tuple[str, ...] | None:
    """The components of a safe relative path without ``..`` (a 400 problem for an unsafe
    one); None for one with ``..``, whose meaning depends on the symlinks before it.

    For walking from the work dir's descriptor with `open_dir_beneath` (no symlink
    followed), without resolving anything first.
    """
    if (
        not isinstance(relpath, str)
        or "\x00" in relpath
        or relpath.startswith("/")
        or not relpath.strip()
        or _WINDOWS_DRIVE.match(relpath)
    ):
        checked_relative(relpath)  # raises the problem that fits
        return None
    parts = tuple(p for p in relpath.split("/") if p and p != ".")
    if ".." in parts:
        checked_relative(relpath)  # a 400 problem if it leads outside
        return None
    return parts


def open_work_dir(work_dir: Path) -> int:
    """A descriptor of the work dir itself (a path the server chose, so its own symlinks,
    if any, are followed)."""
    return os.open(work_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def open_root(root: Path) -> int:
    """A descriptor of a root (the work dir or a mount) to walk from."""
    return os.open(root.resolve(strict=True), _DIR_FLAGS)


def open_dir_beneath(
    root_fd: int, parts: tuple[str, ...], *, create: list[str] | None = None
) -> int:
    """A descriptor of the directory `parts` below `root_fd`, following no symlink.

    With `create`, missing directories are made (mode 0700, the umask applies) and the
    relative path of each one made is appended to it, so a failed request can remove them.
    Raises `OSError` (ELOOP for a symlink in the way); see `path_error`.
    """
    fd = os.dup(root_fd)
    for depth, part in enumerate(parts):
        fd = _step(fd, part, parts[: depth + 1], create)
    return fd


def _step(fd: int, part: str, so_far: tuple[str, ...], create: list[str] | None) -> int:
    """The descriptor of `part` inside `fd`; `fd` is closed whatever happens."""
    try:
        try:
            return os.open(part, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            if create is None:
                raise
        try:
            os.mkdir(part, 0o700, dir_fd=fd)
            create.append("/".join(so_far))
        except FileExistsError:
            pass  # made meanwhile (a concurrent upload): opened as found, symlinks refused
        return os.open(part, _DIR_FLAGS, dir_fd=fd)
    finally:
        os.close(fd)


def path_error(relpath: str, error: OSError) -> Problem:
    """The problem for a client path the file system refused (a 403 when permissions did,
    a 400 for the others named here); other errors propagate."""
    if error.errno in (errno.EACCES, errno.EPERM):
        return GenericForbidden(
            f"Cannot use the path {relpath!r}: permission denied.", data={"path": relpath}
        )
    reasons = {
        errno.ELOOP: "a symbolic link is in the way",
        errno.ENOTDIR: "a component is not a directory",
        errno.EISDIR: "it is a directory",
        errno.ENAMETOOLONG: "the name is too long",
        errno.ENOENT: "it does not exist",
        errno.EEXIST: "it already exists",
    }
    reason = reasons.get(error.errno or 0)
    if reason is None:
        raise error
    return InvalidAPIParams(f"Cannot use the path {relpath!r}: {reason}.")
