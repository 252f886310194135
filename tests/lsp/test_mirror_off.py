"""`namespaceMirror: false` (the editor's `baiBridge.namespaceMirror`): no snapshot follows a
run, so the mirror stays empty and nothing but the person's code runs in the kernel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, field, open_doc, run_selection

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"mirror-off-{profile}")


@pytest.fixture(scope="module")
def bridge_options() -> dict[str, Any]:
    return {"namespaceMirror": False}


async def test_a_run_leaves_the_variables_empty(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "a.py", "answer = 41\nprint(answer + 1)\n")
    for line in (0, 1):
        done = await run_selection(client, uri, line)
        assert field(done, "status") == "finished"
    assert bridge.text(field(done, "runId")).strip() == "42"
    listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
    assert listed.variables == []  # with the mirror on, `answer` is listed (test_mirror)
