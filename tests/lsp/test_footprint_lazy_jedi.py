"""An idle language server keeps jedi out of memory: it is imported by the first completion
that needs the static fallback, and that first completion still answers from jedi.

The process itself is asked which modules it imported: it runs with ``-X importtime``, which
makes the interpreter report every import on stderr (pytest-lsp forwards the server's stderr
to this process, where ``capfd`` reads it).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest
from pytest_lsp import ClientServerConfig, LanguageClient

from .lsp_harness import complete, field, initialize, open_doc, run_selection, stop_server

# Never needed while idle; the plotting and data libraries are the kernel's, never the server's.
# (IPython is: jupyter_client's kernel-spec lookup imports IPython.paths to find its folders.)
IDLE_ABSENT = {"jedi", "parso", "matplotlib", "pandas", "numpy"}


def imported(stderr: str) -> set[str]:
    """Top-level packages named by ``-X importtime`` lines ("import time: 12 | 34 | pkg.mod")."""
    found = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+([\w.]+)\s*$", stderr, re.MULTILINE)
    return {name.split(".")[0] for name in found}


async def start_reporting_imports() -> LanguageClient:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "SORNA_"))}
    config = ClientServerConfig(
        server_command=[sys.executable, "-X", "importtime", "-m", "bai_bridge", "lsp"],
        server_env=env,
    )
    client = await config.start()
    assert isinstance(client, LanguageClient)
    return client


async def test_jedi_is_loaded_by_the_first_static_completion_not_before(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    client = await start_reporting_imports()
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
