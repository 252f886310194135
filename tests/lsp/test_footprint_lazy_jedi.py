"""An idle language server keeps jedi out of memory: it is imported when someone first edits a
document (so that it is ready when they need it), or by the first completion that needs the
static fallback, which still answers from jedi.

The process itself is asked which modules it imported: it runs with ``-X importtime``, which
makes the interpreter report every import on stderr (pytest-lsp forwards the server's stderr
to this process, where ``capfd`` reads it).
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
from pytest_lsp import ClientServerConfig, LanguageClient

from .lsp_harness import (
    change_doc,
    complete,
    field,
    initialize,
    open_doc,
    run_selection,
    server_env,
    stop_server,
)

# Never needed while idle; the plotting and data libraries are the kernel's, never the server's.
# (IPython is: jupyter_client's kernel-spec lookup imports IPython.paths to find its folders.)
IDLE_ABSENT = {"jedi", "parso", "matplotlib", "pandas", "numpy"}


def imported(stderr: str) -> set[str]:
    """Top-level packages named by ``-X importtime`` lines ("import time: 12 | 34 | pkg.mod")."""
    found = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+([\w.]+)\s*$", stderr, re.MULTILINE)
    return {name.split(".")[0] for name in found}


async def start_reporting_imports(profile: str) -> LanguageClient:
    config = ClientServerConfig(
        server_command=[sys.executable, "-X", "importtime", "-m", "bai_bridge", "lsp"],
        server_env=server_env(profile),
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    return client


async def test_jedi_is_loaded_by_the_first_static_completion_not_before(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], profile: str
) -> None:
    client = await start_reporting_imports(profile)
    try:
        await initialize(client, tmp_path)
        uri = open_doc(client, tmp_path / "idle.py", "ready = 1\nimport os\nos.pa\n")
        assert field(await run_selection(client, uri, 0), "status") == "finished"
        at_idle = imported(capfd.readouterr().err)
        assert "bai_bridge" in at_idle  # the report is there at all
        assert not at_idle & IDLE_ABSENT

        # `os` was never imported in the session: only jedi knows `os.path` here.
        answer = await complete(client, uri, 2, 5)
        found = {(item.label, item.detail) for item in answer.items}
        assert ("path", "bai-bridge: static") in found
        assert "jedi" in imported(capfd.readouterr().err)
    finally:
        await stop_server(client)


async def imports_until(capfd: pytest.CaptureFixture[str], module: str) -> set[str]:
    """What the server imported, read as it reports it, until ``module`` shows."""
    seen: set[str] = set()
    while module not in seen:
        seen |= imported(capfd.readouterr().err)
        await asyncio.sleep(0.1)  # the polling interval of a condition wait
    return seen


async def test_the_first_edit_loads_jedi_in_the_background(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], profile: str
) -> None:
    client = await start_reporting_imports(profile)
    try:
        await initialize(client, tmp_path)
        uri = open_doc(client, tmp_path / "typed.py", "ready = 1\n")
        assert field(await run_selection(client, uri, 0), "status") == "finished"
        assert not imported(capfd.readouterr().err) & IDLE_ABSENT  # opened, not yet edited

        change_doc(client, uri, "ready = 1\nrea", 2)
        async with asyncio.timeout(60):  # jedi's cold start takes seconds on a busy machine
            await imports_until(capfd, "jedi")
        # The session's mirror still answers what it knows, on either profile; the warm-up
        # took nothing away.
        answer = await complete(client, uri, 1, 3)
        assert ("ready", "int") in {(i.label, i.detail) for i in answer.items}
    finally:
        await stop_server(client)
