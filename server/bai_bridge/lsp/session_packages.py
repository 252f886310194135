"""Packages only the session has, made visible to static analysis on this machine.

Once a buffer imports a top-level module this machine cannot import, one silent query learns
the session's environment (kept per session, so attaching again asks nothing; a session no
buffer needs it of is never asked). When such a module is one the session can import, its
package's sources are fetched in the background: one query packs them in the session (stubs
and shallow files first, bounded), one download brings the parts, and `PackageCache` checks
and unpacks them. jedi then sees them (`paths`), and so does an editor told the view folder
(``on_paths``). Never on a keystroke's path: completion reads `paths`.
Knows nothing of LSP.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

import attrs

from bai_bridge.api import Kernel, TransferError

from .package_cache import Limits, PackageCache
from .session import SessionManager
from .session_env import MODULE_NAME, Environment, EnvironmentStore, ask, parse_environment
from .tasks import BackgroundTasks

__all__ = ["PackagePaths", "SessionPackages", "imported_modules"]

log = logging.getLogger(__name__)

PACKS = ".bai-bridge/env-pack"  # in the session's work dir, removed after each download
PART_BYTES = 768 * 1024  # each part well under a manager's 1 MiB download limit
SCAN_LIMIT = 512 * 1024  # characters of a buffer searched for imports
_IMPORT = re.compile(r"[ \t]*(?:from[ \t]+([A-Za-z_]\w*)|import[ \t]+([^\n#;]+))")
_FIRST_NAME = re.compile(r"\s*([A-Za-z_]\w*)")


def imported_modules(source: str) -> set[str]:
    """Top-level modules a buffer imports (``a`` of ``import a.b as c`` and ``from a import
    x``); relative imports are the workspace's own. Only lines holding "import" are read
    (found by `str.find`): a buffer of ordinary code costs well under a millisecond."""
    found = set()
    end = min(len(source), SCAN_LIMIT)
    at = source.find("import", 0, end)
    while at >= 0:
        start = source.rfind("\n", 0, at) + 1
        stop = source.find("\n", at, end)
        stop = end if stop < 0 else stop
        match = _IMPORT.match(source, start, stop)
        if match and match.group(1):
            found.add(match.group(1))
        elif match:
            for clause in match.group(2).replace("\\", "").strip("()").split(","):
                name = _FIRST_NAME.match(clause)
                if name:
                    found.add(name.group(1))
        at = source.find("import", stop, end)
    return found


@attrs.define
class PackagePaths:
    """`baiBridge/sessionEnvironment`: where the session's packages are, for an editor's own
    analysis (``python.analysis.extraPaths``). ``view`` is one folder for all of them (None
    where links cannot be made: then ``paths``)."""

    python: str | None
    view: str | None
    paths: list[str]
    cache_root: str


class SessionPackages:
    def __init__(
        self,
        sessions: SessionManager,
        tasks: BackgroundTasks,
        cache: PackageCache,
        on_paths: Callable[[PackagePaths], None],
    ) -> None:
        self.sessions = sessions
        self.cache = cache
        self.store = EnvironmentStore(cache.root / "environments")
        self.environment: Environment | None = None
        self.paths: tuple[str, ...] = ()  # what jedi adds to its sys.path
        self.queries = 0  # silent queries sent (environment and packs)
        self._tasks = tasks
        self._on_paths = on_paths
        self._wanted: set[str] = set()  # modules buffers import
        self._local: dict[str, bool] = {}  # module -> this machine can import it
        self._done: dict[str, str | None] = {}  # module -> package key fetched (None: skipped)
        self._packages: dict[str, Path] = {}  # module -> its cached package folder
        self._fetching: asyncio.Task[None] | None = None
        self._kernel: Kernel | None = None
        self._session = ("", "")  # endpoint and session id: the key of its environment
        self.settled = asyncio.Event()  # no fetch under way, none wanted (for tests, bench)

    def attach(self) -> None:
        self.sessions.on_ready.append(self._on_ready)

    # -- the environment ------------------------------------------------------------------

    async def _on_ready(self, kernel: Kernel, reason: str) -> None:
        """A session to use: its environment as kept on disk if this one was seen before,
        else asked once a buffer imports a module this machine lacks (a session nobody needs
        it for is never asked; a restarted one is asked again: it may have changed)."""
        self._kernel = kernel
        self._session = (str(self.sessions.api.endpoint), kernel.session_id or kernel.name)
        known = None
        if reason in ("reused", "attached"):  # the same kernel as when it was kept, if any
            known = await asyncio.to_thread(self.store.load, *self._session)
        self._set_environment(known)
        self._kick()

    async def _learn(self, kernel: Kernel) -> Environment | None:
        """One silent query: the session's environment, kept on disk; None (logged) if it
        could not be had (asked again on the next import that needs it)."""
        try:
            self.queries += 1
            raw = await ask(kernel, {"op": "environment"})
            known = parse_environment(raw)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.warning("the session's Python environment is unknown: %s", e)
            return None
        await asyncio.to_thread(self.store.save, *self._session, raw)
        self._set_environment(known)
        return known

    def _set_environment(self, known: Environment | None) -> None:
        if known != self.environment:
            self.environment = known
            self._done.clear()
            self._packages.clear()
        if known is not None:
            log.info(
                "session environment: Python %s, %d distributions, %d importable modules",
                known.python,
                len(known.distributions),
                len(known.modules),
            )
        self._publish()

    # -- what buffers import ----------------------------------------------------------------

    def buffer_imports(self, source: str) -> None:
        """A buffer was opened or changed: fetch what it imports that only the session has."""
        new = imported_modules(source) - self._wanted
        if new:
            self._wanted |= new
            self._kick()

    def _missing_here(self, module: str) -> bool:
        """This machine cannot import ``module`` (asked once per name, importing nothing)."""
        if not MODULE_NAME.match(module) or "-" in module:
            return False
        if module not in self._local:
            try:
                self._local[module] = importlib.util.find_spec(module) is not None
            except (ImportError, ValueError):
                self._local[module] = False
        return not self._local[module]

    def _kick(self) -> None:
        if self._fetching is None or self._fetching.done():
            self.settled.clear()
            self._fetching = self._tasks.spawn(self._fetch_all(), "session-packages")

    async def _fetch_all(self) -> None:
        tried: set[str] = set()  # a fetch that failed is tried again on the next kick only
        try:
            while (kernel := self._kernel) is not None:
                missing = [m for m in sorted(self._wanted - tried) if self._missing_here(m)]
                if not missing:
                    break
                env = self.environment or await self._learn(kernel)
                if env is None:
                    break
                todo = [
                    m
                    for m in missing
                    if m in env.modules and self._done.get(m, "") != env.package_key(m)
                ]
                if not todo:
                    break
                tried.add(todo[0])
                await self._fetch(kernel, env, todo[0])
                self._publish()
        finally:
            self.settled.set()

    async def _fetch(self, kernel: Kernel, env: Environment, module: str) -> None:
        key = env.package_key(module)
        assert key is not None
        found = await asyncio.to_thread(self.cache.find, key)
        if found is None:
            try:
                found = await self._download(kernel, env, module, key)
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the session was busy or gone: the next kick tries again
                log.warning("could not fetch the session's package %s: %s", module, e)
                return
        self._done[module] = key  # fetched, or skipped for good (said in the log)
        if found is not None:
            self._packages[module] = found

    async def _download(
        self, kernel: Kernel, env: Environment, module: str, key: str
    ) -> Path | None:
        """The package's folder in the cache; None if it is skipped (compiled only, refused);
        raises when the session could not answer (busy past the query's limit, gone)."""
        modules = [m for m in (module, f"{module}-stubs") if m in env.modules]
        token = uuid.uuid4().hex[:16]
        limits = self.cache.limits
        request: dict[str, Any] = {
            "op": "pack",
            "modules": modules,
            "workDir": env.work_dir,
            "packs": PACKS,
            "token": token,
            "maxFiles": limits.max_files,
            "maxBytes": limits.max_bytes,
            "partBytes": PART_BYTES,
        }
        incoming = self.cache.root / "incoming"
        started = time.perf_counter()
        try:
            self.queries += 1
            reply = await ask(kernel, request)
            parts = [str(p) for p in reply.get("parts") or []]
            if not parts:
                why = {m: n.get("why") for m, n in (reply.get("notes") or {}).items()}
                log.info("session package %s skipped: %s", module, why.get(module) or why)
                return None
            _note(module, reply)
            packed = time.perf_counter()
            await asyncio.to_thread(incoming.mkdir, parents=True, exist_ok=True)
            staging = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=incoming))
            try:
                await kernel.download(parts, staging)
                downloaded = time.perf_counter()
                archives = [staging / PurePosixPath(p).name for p in parts]
                found = await asyncio.to_thread(self.cache.install, key, modules, archives)
                log.info(
                    "session package %s: %d files in %d parts; packed in %.2f s, downloaded "
                    "in %.2f s, checked and unpacked in %.2f s",
                    module,
                    reply.get("files", 0),
                    len(parts),
                    packed - started,
                    downloaded - packed,
                    time.perf_counter() - downloaded,
                )
                return found
            finally:
                await asyncio.to_thread(shutil.rmtree, staging, ignore_errors=True)
        except TransferError as e:  # what the session sent breaks a rule: not asked again
            log.warning("refused the session's package %s: %s", module, e)
            return None
        finally:
            self._tasks.spawn(self._clean(kernel, env, token), "session-package-clean")

    async def _clean(self, kernel: Kernel, env: Environment, token: str) -> None:
        try:
            request = {"op": "clean", "workDir": env.work_dir, "packs": PACKS, "token": token}
            await ask(kernel, request)
        except Exception as e:  # the next pack removes stale ones
            log.info("could not remove a package pack from the session: %s", e)

    # -- what static analysis sees ----------------------------------------------------------

    def _publish(self) -> None:
        folders = sorted({p for p in self._packages.values() if p.is_dir()})
        self.paths = tuple(str(p) for p in folders)
        view = self.cache.view(self.sessions.session_name, folders)
        env = self.environment
        self._on_paths(
            PackagePaths(
                python=env.python if env else None,
                view=str(view) if view else None,
                paths=list(self.paths),
                cache_root=str(self.cache.root),
            )
        )

    async def clear(self) -> int:
        """Forget every cached package (the command): buffers' imports are fetched again."""
        removed = await asyncio.to_thread(self.cache.clear)
        self._done.clear()
        self._packages.clear()
        self._publish()
        self._kick()
        return removed


def _note(module: str, reply: dict[str, Any]) -> None:
    """One log line for what a pack left out, if anything."""
    notes = reply.get("notes") or {}
    said = {m: n for m, n in notes.items() if n}
    if reply.get("truncated") or said:
        log.info(
            "session package %s: %d files, %d bytes%s %s",
            module,
            reply.get("files", 0),
            reply.get("bytes", 0),
            " (cut at its bounds)" if reply.get("truncated") else "",
            said or "",
        )


def limits_of(max_files: int, max_mib: float, cache_mib: float) -> Limits:
    return Limits(max_files, int(max_mib * 1024 * 1024), int(cache_mib * 1024 * 1024))
