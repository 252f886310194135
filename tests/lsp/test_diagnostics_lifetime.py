"""A traceback's diagnostic lives as long as what it describes: it moves with its line as the
text is edited above it, goes when its line is edited, and goes when the session restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, field, open_doc, run_cell

pytestmark = pytest.mark.asyncio(loop_scope="module")

BROKEN = "# %% broken\na = 1\nb = 0\nprint(a / b)\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ws")


def insert(client: LanguageClient, uri: str, version: int, line: int, col: int, text: str) -> None:
    where = types.Range(types.Position(line, col), types.Position(line, col))
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangePartial(range=where, text=text)],
        )
    )


def shown_lines(client: LanguageClient, uri: str) -> list[int] | None:
    diagnostics = client.diagnostics.get(uri)
    return None if diagnostics is None else [d.range.start.line for d in diagnostics]


async def failed_run(client: LanguageClient, bridge: Recorder, uri: str) -> None:
    result = await run_cell(client, uri, 1)
    assert field(result, "status") == "failed"
    await bridge.wait_for("the diagnostic", lambda: shown_lines(client, uri) == [3])


async def test_the_diagnostic_moves_with_its_line_and_goes_when_the_line_is_edited(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "moves.py", BROKEN)
    await failed_run(client, bridge, uri)
    insert(client, uri, 2, 1, 0, "import math\nimport os\n")  # two lines above it
    await bridge.wait_for("the moved diagnostic", lambda: shown_lines(client, uri) == [5])
    [moved] = client.diagnostics[uri]
    assert "ZeroDivisionError" in moved.message
    insert(client, uri, 3, 5, len("print(a / b)"), "  # why?")  # typed on its line
    await bridge.wait_for("no diagnostic", lambda: shown_lines(client, uri) == [])


async def test_a_restart_of_the_session_clears_the_diagnostics(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "restart.py", BROKEN)
    await failed_run(client, bridge, uri)
    await command(client, protocol.RESTART)
    await bridge.wait_for("no diagnostic", lambda: shown_lines(client, uri) == [])
