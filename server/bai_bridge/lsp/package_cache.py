"""The local, read-only cache of session-only packages' sources, bounded by an LRU size cap.

Layout under the root (``$BAI_BRIDGE_CACHE_DIR``, else the user cache dir, ``session-env``):

- ``packages/<name>-<digest>/``: one package's ``.py``/``.pyi`` files (its top-level module
  and its ``-stubs``), keyed by distribution and version (`Environment.package_key`), read-only;
  ``packages/<name>-<digest>.json`` beside it: its key, size and when it was last used.
- ``views/<session name>/``: links to the packages of that workspace's session environment;
  one stable folder for an editor's ``extraPaths``.
- ``environments/``: the environment answers (session_env.EnvironmentStore).

An archive from the session is checked member by member as it is unpacked, in a process of
its own (`package_unpack`: the rules are there); a refused member discards the whole staging
folder and nothing reaches the cache. Blocking throughout: call it in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

import attrs

from bai_bridge.api import TransferError

__all__ = ["Limits", "PackageCache", "default_root"]

log = logging.getLogger(__name__)

UNPACK_TIMEOUT = 300.0  # s: a package at its bounds unpacks in seconds
_SLUG = re.compile(r"[^A-Za-z0-9_.-]+")


@attrs.frozen
class Limits:
    max_files: int = 5000  # per package
    max_bytes: int = 64 * 1024 * 1024  # per package, uncompressed
    cache_bytes: int = 512 * 1024 * 1024  # the whole cache (LRU)


def default_root() -> Path:
    explicit = os.environ.get("BAI_BRIDGE_CACHE_DIR")
    if explicit:
        return Path(explicit) / "session-env"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bai-bridge" / "session-env"


@attrs.frozen
class Installed:
    key: str
    path: Path
    size: int


class PackageCache:
    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self.limits = limits
        self.packages = root / "packages"
        self.views = root / "views"

    def _dir(self, key: str) -> Path:
        name = _SLUG.sub("-", key.split("|", 1)[0])[:40]
        return self.packages / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}"

    def find(self, key: str) -> Path | None:
        """The cached package of ``key``, marked as just used; None if not cached."""
        folder = self._dir(key)
        meta = folder.with_suffix(".json")
        if not folder.is_dir() or not meta.is_file():
            return None
        os.utime(meta)  # its last use: what the LRU goes by
        return folder

    # -- installing -------------------------------------------------------------------------

    def install(self, key: str, modules: Sequence[str], archives: Iterable[Path]) -> Path:
        """Check and unpack the session's ``archives`` of ``modules`` as package ``key``;
        raises TransferError (nothing written) for an archive that breaks a rule."""
        self.packages.mkdir(parents=True, exist_ok=True)
        final = self._dir(key)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.packages))
        try:
            files, size = _unpack_elsewhere(archives, staging, modules, self.limits)
            _read_only(staging)
            meta = {"key": key, "size": size, "files": files, "modules": list(modules)}
            if final.exists():  # another language server put it there meanwhile
                _remove_tree(staging)
            else:
                os.replace(staging, final)
            _write_json(final.with_suffix(".json"), meta)
        except BaseException:
            _remove_tree(staging)
            raise
        self.evict(keep={final})
        return final

    # -- the LRU bound ----------------------------------------------------------------------

    def entries(self) -> list[Installed]:
        """Every cached package, least recently used first."""
        found = []
        for meta in self.packages.glob("*.json"):
            try:
                raw = json.loads(meta.read_text())
                used = meta.stat().st_mtime
            except (OSError, ValueError):
                continue
            found.append((used, Installed(str(raw["key"]), meta.with_suffix(""), int(raw["size"]))))
        return [entry for _, entry in sorted(found, key=lambda pair: pair[0])]

    def evict(self, keep: set[Path] | None = None) -> list[str]:
        """Remove least recently used packages until the cache is within its cap (never those
        in ``keep``); the keys removed."""
        entries = self.entries()
        total = sum(e.size for e in entries)
        removed = []
        for entry in entries:
            if total <= self.limits.cache_bytes:
                break
            if keep and entry.path in keep:
                continue
            self._remove(entry.path)
            total -= entry.size
            removed.append(entry.key)
        if removed:
            log.info("package cache over %d bytes: removed %s", self.limits.cache_bytes, removed)
            self._prune_views()
        return removed

    def clear(self) -> int:
        """Remove every cached package and view; how many packages there were."""
        entries = self.entries()
        for entry in entries:
            self._remove(entry.path)
        for leftover in (self.packages, self.views):
            if leftover.exists():
                _remove_tree(leftover)
        return len(entries)

    def _remove(self, folder: Path) -> None:
        folder.with_suffix(".json").unlink(missing_ok=True)  # first: no reader takes it now
        _remove_tree(folder)

    # -- views ------------------------------------------------------------------------------

    def view(self, name: str, packages: Iterable[Path]) -> Path | None:
        """``views/<name>``: a link per top-level module of ``packages``, nothing else; None
        where links cannot be made (the package folders then serve instead)."""
        folder = self.views / _SLUG.sub("-", name)
        wanted: dict[str, Path] = {}
        for package in packages:
            for child in package.iterdir():
                wanted.setdefault(child.name, child)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for old in folder.iterdir():
                if old.is_symlink() and wanted.get(old.name) != Path(os.readlink(old)):
                    old.unlink()
            for link, target in wanted.items():
                if not (folder / link).is_symlink():
                    (folder / link).symlink_to(target)
        except OSError as e:
            log.info("no view of the session's packages (%s): their folders are used", e)
            return None
        return folder

    def _prune_views(self) -> None:
        if not self.views.is_dir():
            return
        for view in self.views.iterdir():
            for link in view.iterdir() if view.is_dir() else []:
                if link.is_symlink() and not link.exists():
                    link.unlink()


def _unpack_elsewhere(
    archives: Iterable[Path], dest: Path, modules: Sequence[str], limits: Limits
) -> tuple[int, int]:
    """`package_unpack` in its own Python process (files, bytes); TransferError if refused."""
    request = {
        "archives": [str(a) for a in archives],
        "dest": str(dest),
        "modules": list(modules),
        "maxFiles": limits.max_files,
        "maxBytes": limits.max_bytes,
    }
    script = resources.files(__package__).joinpath("package_unpack.py")
    with resources.as_file(script) as path:
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(path)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=UNPACK_TIMEOUT,
            check=False,
        )
    try:
        reply = json.loads(done.stdout)
    except ValueError:
        raise TransferError(f"unpacking failed: {done.stderr.strip()[-500:]}") from None
    if "refused" in reply:
        raise TransferError(str(reply["refused"]))
    return int(reply["files"]), int(reply["size"])


def _read_only(folder: Path) -> None:
    """Its folders (its files were made read-only)."""
    for here, _dirs, _files in os.walk(folder):
        os.chmod(here, 0o555)


def _remove_tree(folder: Path) -> None:
    """rmtree of a read-only tree: each folder made writable again first."""

    if not folder.is_dir() or folder.is_symlink():
        return
    os.chmod(folder, stat.S_IRWXU)
    for here, dirs, _files in os.walk(folder):
        for name in dirs:
            path = os.path.join(here, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
    shutil.rmtree(folder, ignore_errors=True)


def _write_json(path: Path, value: object) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".meta-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)
    os.utime(path, (time.time(), time.time()))
