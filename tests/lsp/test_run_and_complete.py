"""bai-bridge end to end over stdio, against the embedded session server it starts itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import pytest_lsp
from lsp_harness import (
    Recorder,
    complete,
    field,
    initialize,
    open_doc,
    run_selection,
    server_config,
    stop_server,
)
from pytest_lsp import LanguageClient

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ws")


@pytest_lsp.fixture(scope="module", config=server_config())
async def client(lsp_client: LanguageClient) -> AsyncIterator[None]:
    yield
    await stop_server(lsp_client)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bridge(client: LanguageClient, workspace: Path) -> Recorder:
    recorder = await initialize(client, workspace)
    await recorder.wait_for("the session", lambda: recorder.state() == "running")
    return recorder


async def test_completes_a_name_a_run_defined(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "train.py", "train_loss_history = []\ntrain_\n")
    result = await run_selection(client, uri, 0)
    assert field(result, "status") == "finished"
    answer = await complete(client, uri, 1, 6)
    labels = {item.label: item for item in answer.items}
    assert "train_loss_history" in labels
    item = labels["train_loss_history"]
    assert item.text_edit is not None
    assert item.text_edit.range.start.character == 0  # replaces the word typed so far
    assert "session" in (item.detail or "")
