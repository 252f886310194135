"""Scanning the workspace for sync: the files to send, their hashes, what is left out.

A `ScanCache` makes a repeated scan cheap: a file whose size and mtime did not change is not
read again, and a folder whose mtime did not change (so no entry was added, removed or
renamed in it) under unchanged `.gitignore` files is not listed or matched against the
excludes again; only its files are stat'ed. Like git's index, a folder or `.gitignore`
changed in the last `RACY_NS` is never trusted from the cache: a change within the file
system's timestamp granularity could leave its mtime as it was.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import attrs
import pathspec

__all__ = [
    "HashCache",
    "LocalFile",
    "ScanCache",
    "WorkspaceFilter",
    "WorkspaceScan",
    "file_digest",
    "is_excluded",
    "iter_workspace",
    "name_problem",
    "scan_workspace",
]

RACY_NS = 2_000_000_000  # a folder changed this recently is listed again next time

HashCache = dict[str, tuple[int, int, str]]  # path -> (size, mtime_ns, sha256)
# a .gitignore in force: (its folder, mtime_ns, size)
Rule = tuple[str, int, int]
_NAME_MAX = 255  # bytes in one path component on the session's (Linux) file systems
_BACKSLASH_OR_CONTROL = re.compile(r"[\\\x00-\x1f\x7f]")


def name_problem(rel: str) -> str | None:
    """Why the session would read this workspace path as another file, or cannot hold it;
    None when it is safe to send. A backslash is a folder separator to the manager (the
    official client's Windows paths): ``a\\b.py`` would land on ``a/b.py``."""
    if (bad := _BACKSLASH_OR_CONTROL.search(rel)) is not None:
        if bad.group() == "\\":
            return "a backslash in the name, which the session reads as a folder separator"
        return "a control character in the name"
    try:
        encoded = rel.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir's surrogate escapes of undecodable bytes
        return "a name that is not valid UTF-8"
    if len(encoded) > _NAME_MAX and any(len(p) > _NAME_MAX for p in encoded.split(b"/")):
        return f"a name longer than {_NAME_MAX} bytes"
    return None


@attrs.frozen
class LocalFile:
    path: str  # posix, relative to the workspace root
    size: int
    sha256: str


class WorkspaceScan(NamedTuple):
    files: list[LocalFile]
    too_large: list[str]  # over the size cap
    problems: dict[str, str]  # path -> why it is not sent (unreadable, a refused name)


@attrs.frozen
class _Folder:
    """A folder's entries, filtered, as of its mtime and the `.gitignore` rules in force."""

    mtime_ns: int
    rules: tuple[Rule, ...]
    files: tuple[str, ...]  # regular files not excluded
    dirs: tuple[str, ...]  # folders to enter: not excluded, not symlinks
    has_gitignore: bool


@attrs.define
class ScanCache:
    """What one scan leaves for the next (kept by the sync service; used in one thread)."""

    hashes: HashCache = attrs.Factory(dict)
    folders: dict[str, _Folder] = attrs.Factory(dict)
    excludes: tuple[str, ...] = ()


class WorkspaceFilter:
    """Excludes (gitignore syntax) plus every `.gitignore` found, each relative to its folder."""

    def __init__(self, root: Path, excludes: Iterable[str]) -> None:
        self.root = root
        self._specs: list[tuple[str, pathspec.GitIgnoreSpec]] = [
            ("", pathspec.GitIgnoreSpec.from_lines(list(excludes)))
        ]

    def add_gitignore(self, folder: str) -> None:
        path = self.root / folder / ".gitignore"
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        self._specs.append((folder, pathspec.GitIgnoreSpec.from_lines(lines)))

    def excluded(self, rel: str, is_dir: bool = False) -> bool:
        for folder, spec in self._specs:
            if folder and not rel.startswith(folder + "/"):
                continue
            inner = rel[len(folder) + 1 :] if folder else rel
            if spec.match_file(inner + "/" if is_dir else inner):
                return True
        return False


class _Walk:
    """One top-down, sorted walk (symlinked folders not entered), through a `ScanCache`."""

    def __init__(self, root: Path, excludes: Iterable[str], cache: ScanCache) -> None:
        self.root = str(root)
        self.filter = WorkspaceFilter(root, excludes)
        self.cache = cache
        self.now_ns = time.time_ns()
        self.unreadable: dict[str, str] = {}  # folders that could not be read: path -> why

    def files(self, folder: str = "", rules: tuple[Rule, ...] = ()) -> Iterator[str]:
        """Relative posix paths of the regular files not excluded, folder by folder."""
        path = os.path.join(self.root, folder)
        try:
            mtime_ns = os.stat(path).st_mtime_ns
        except OSError as e:
            self._cannot_read(folder, e)
            return
        known = self.cache.folders.get(folder)
        if known is not None and known.mtime_ns == mtime_ns:
            here = rules + _own_rule(path, folder, known.has_gitignore)
            if here == known.rules:
                if known.has_gitignore:
                    self.filter.add_gitignore(folder)  # for folders below not in the cache
                yield from self._emit(folder, known.files, known.dirs, here)
                return
        listed = self._list(path, folder, mtime_ns, rules)
        if listed is not None:
            yield from self._emit(folder, listed.files, listed.dirs, listed.rules)

    def _emit(
        self, folder: str, files: tuple[str, ...], dirs: tuple[str, ...], rules: tuple[Rule, ...]
    ) -> Iterator[str]:
        prefix = f"{folder}/" if folder else ""
        yield from (prefix + name for name in files)
        for name in dirs:
            yield from self.files(prefix + name, rules)

    def _list(
        self, path: str, folder: str, mtime_ns: int, rules: tuple[Rule, ...]
    ) -> _Folder | None:
        """List and filter the folder afresh; cached unless it changed too recently."""
        try:
            with os.scandir(path) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as e:
            self.cache.folders.pop(folder, None)
            self._cannot_read(folder, e)
            return None
        dirs = [e for e in entries if _is_dir(e)]
        files = [e for e in entries if not _is_dir(e)]
        has_gitignore = any(e.name == ".gitignore" for e in files)
        if has_gitignore:
            self.filter.add_gitignore(folder)
        prefix = f"{folder}/" if folder else ""
        flt = self.filter
        found = _Folder(
            mtime_ns,
            rules + _own_rule(path, folder, has_gitignore),
            tuple(e.name for e in files if _is_regular(e) and not flt.excluded(prefix + e.name)),
            tuple(
                d.name
                for d in dirs
                if not flt.excluded(prefix + d.name, is_dir=True) and not d.is_symlink()
            ),
            has_gitignore,
        )
        settled = [mtime_ns, *(m for _f, m, _s in found.rules)]
        if all(self.now_ns - m > RACY_NS for m in settled):
            self.cache.folders[folder] = found
        else:
            self.cache.folders.pop(folder, None)
        return found

    def _cannot_read(self, folder: str, error: OSError) -> None:
        """A folder that vanished is skipped; one that cannot be read is reported."""
        if not isinstance(error, FileNotFoundError):
            self.unreadable[folder or "."] = f"unreadable folder: {error.strerror}"


def _own_rule(path: str, folder: str, has_gitignore: bool) -> tuple[Rule, ...]:
    """The folder's own `.gitignore` as a rule (its stat), if it has one."""
    if not has_gitignore:
        return ()
    try:
        st = os.stat(os.path.join(path, ".gitignore"))
    except OSError:
        return ((folder, -1, -1),)
    return ((folder, st.st_mtime_ns, st.st_size),)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """A regular file, not a symlink to one."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def iter_workspace(root: Path, excludes: Iterable[str]) -> Iterator[str]:
    """Relative posix paths of the regular files to sync (blocking: run it in a thread)."""
    return _Walk(root, excludes, ScanCache()).files()


def file_digest(path: Path | str) -> tuple[int, str]:
    """Size and sha256 of a file (blocking; unbuffered reads: most files take one)."""
    digest = hashlib.sha256()
    size = 0
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    return size, digest.hexdigest()


def scan_workspace(
    root: Path,
    excludes: Iterable[str],
    max_size: int,
    cache: ScanCache | None = None,
    on_folders: Callable[[set[str]], None] = lambda _folders: None,
    on_large: tuple[int, Callable[[LocalFile], None]] | None = None,
    on_hashed: Callable[[LocalFile], None] = lambda _file: None,
) -> WorkspaceScan:
    """Files to sync with their hashes, the paths over ``max_size``, and the paths left out
    for a problem a person must hear of (blocking). ``cache``: what the last scan learnt,
    updated for the next one. ``on_folders`` is told the folders holding files (posix,
    "" for the root) once the walk found them, before any file is read; ``on_large``
    (size, callback): files of that size or more are read first, and the callback told of
    each once it is; ``on_hashed`` each file read anew (not known to ``cache`` as it is now)
    as soon as it is, before the scan goes on (all from this thread)."""
    cache = ScanCache() if cache is None else cache
    excludes = tuple(excludes)
    if cache.excludes != excludes:
        cache.folders.clear()
        cache.excludes = excludes
    scan = WorkspaceScan([], [], {})
    base = str(root).rstrip("/") + "/"
    walk = _Walk(root, excludes, cache)
    found = list(walk.files())
    on_folders({rel.rpartition("/")[0] for rel in found})
    stats: dict[str, os.stat_result] = {}
    read: dict[str, LocalFile | None] = {}  # None: vanished or unreadable when read
    for rel in found:
        if (problem := name_problem(rel)) is not None:
            scan.problems[rel] = problem
            continue
        try:
            st = os.stat(base + rel, follow_symlinks=False)
        except FileNotFoundError:
            continue  # vanished while scanning
        except OSError as e:
            scan.problems[rel] = f"unreadable: {e.strerror}"
            continue
        if not stat.S_ISREG(st.st_mode):
            continue  # replaced by something else since its folder was listed
        if st.st_size > max_size:
            scan.too_large.append(rel)
            continue
        stats[rel] = st
        known = cache.hashes.get(rel)
        if known is not None and known[:2] != (st.st_size, st.st_mtime_ns):
            # edited since the last scan: read at once, so its proof can be on its way
            read[rel] = _read(base, rel, st, cache, scan, on_hashed)
    if on_large is not None:
        size, tell = on_large
        for rel in [rel for rel, st in stats.items() if st.st_size >= size]:
            if rel not in read:
                read[rel] = _read(base, rel, stats[rel], cache, scan, on_hashed)
            if (file := read[rel]) is not None:
                tell(file)
    for rel, st in stats.items():
        file = read[rel] if rel in read else _read(base, rel, st, cache, scan, on_hashed)
        if file is not None:
            scan.files.append(file)
    scan.problems.update(walk.unreadable)
    return scan


def _read(
    base: str,
    rel: str,
    st: os.stat_result,
    cache: ScanCache,
    scan: WorkspaceScan,
    on_hashed: Callable[[LocalFile], None],
) -> LocalFile | None:
    """The file as the cache knows it (same size and mtime), or hashed now (``on_hashed``
    told); None when it vanished or cannot be read (that problem noted in ``scan``)."""
    known = cache.hashes.get(rel)
    if known is not None and known[:2] == (st.st_size, st.st_mtime_ns):
        return LocalFile(rel, known[0], known[2])
    try:
        size, sha = file_digest(base + rel)
    except FileNotFoundError:
        return None  # vanished while scanning
    except OSError as e:
        scan.problems[rel] = f"unreadable: {e.strerror}"
        return None
    cache.hashes[rel] = (size, st.st_mtime_ns, sha)
    file = LocalFile(rel, size, sha)
    on_hashed(file)
    return file


def is_excluded(root: Path, excludes: Iterable[str], rel: str, is_dir: bool = False) -> bool:
    """Whether one path is left out by the excludes or a `.gitignore` on its way (blocking)."""
    flt = WorkspaceFilter(root, excludes)
    parts = PurePosixPath(rel).parts
    for depth in range(len(parts)):
        folder = "/".join(parts[:depth])
        flt.add_gitignore(folder)
        here = "/".join(parts[: depth + 1])
        if flt.excluded(here, is_dir=is_dir or depth < len(parts) - 1):
            return True
    return False
