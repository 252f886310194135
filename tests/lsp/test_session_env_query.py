"""The session's environment, asked once, on both server profiles: the silent query leaves no
name, `_` nor `_i` behind in the user's namespace; attaching again to the same session asks
nothing (the answer kept on disk is used); a restarted session is asked again; a session no
buffer needs it of (every import is this machine's) is never asked."""

from __future__ import annotations

from pathlib import Path

from bai_bridge.lsp.package_cache import Limits, PackageCache
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.session_packages import PackagePaths, SessionPackages
from bai_bridge.lsp.tasks import BackgroundTasks

from .test_namespace_probe import run_text, user_view


def packages(sessions: SessionManager, root: Path, reports: list[PackagePaths]) -> SessionPackages:
    cache = PackageCache(root, Limits())
    return SessionPackages(sessions, BackgroundTasks(), cache, reports.append)


async def imports_what_this_machine_lacks(
    found: SessionPackages, name: str = "module_nobody_has"
) -> None:
    found.buffer_imports(f"import {name}\n")
    await found.settled.wait()


async def test_the_environment_is_asked_once_per_session(
    sessions: SessionManager, tmp_path: Path
) -> None:
    kernel = await sessions.kernel()
    await run_text(kernel, "6 * 7")
    for _ in range(2):
        await user_view(kernel)
    before = await user_view(kernel)
    reports: list[PackagePaths] = []

    first = packages(sessions, tmp_path, reports)
    await first._on_ready(kernel, "created")
    await first.settled.wait()
    assert first.queries == 0  # no buffer needs it yet
    await imports_what_this_machine_lacks(first)
    assert first.queries == 1
    env = first.environment
    assert env is not None
    assert env.python.count(".") == 2
    assert env.modules["pytest"] == "pytest"  # the embedded kernels share the server's venv
    assert await user_view(kernel) == before  # no name, `_` nor `_i` left behind
    assert reports[-1].python == env.python

    again = packages(sessions, tmp_path, reports)  # a new language server, the same session
    await again._on_ready(kernel, "reused")
    assert again.queries == 0
    assert again.environment == env

    await imports_what_this_machine_lacks(again)
    assert again.queries == 0  # not asked again: the same session

    await again._on_ready(kernel, "restarted")  # a restart may bring another environment
    assert again.environment is None
    await imports_what_this_machine_lacks(again, "another_module_nobody_has")
    assert again.queries == 1
