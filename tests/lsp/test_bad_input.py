"""Bad input to the language server gets a clear answer, never a hang: command arguments of
the wrong type, run commands on what is neither open nor in the workspace, FIFOs."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, complete, open_doc, uri_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

INVALID_PARAMS = -32602
LIMIT = 30.0  # an answer, not a hang


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"ws-{profile}")


A_URI = "file:///tmp/a.py"
WRONG_ARGUMENTS: list[tuple[str, list[Any], str]] = [
    (protocol.DOWNLOAD, [{"paths": "a.py"}], "paths"),
    (protocol.DOWNLOAD, [{"paths": ["a.py"], "dest": 3}], "dest"),
    (protocol.DOWNLOAD, [], "argument"),
    (protocol.LIST_REMOTE_FILES, [{"path": 12}], "path"),
    (protocol.LIST_REMOTE_FILES, ["."], "object"),
    (protocol.RUN_CELL, [{"uri": A_URI, "line": "3"}], "line"),
    (protocol.RUN_CELLS_ABOVE, [{"uri": A_URI, "line": True}], "line"),
    (protocol.RUN_FILE, [{"uri": ["a.py"]}], "uri"),
    (protocol.RUN_FILE_AS_JOB, [{"uri": 7}], "uri"),
    (protocol.RUN_SELECTION, [{"uri": A_URI, "range": {"start": 0, "end": 0}}], "range"),
    (protocol.RESOLVE_CONFLICT, [{"path": "a.py", "action": "delete"}], "action"),
    (protocol.RESOLVE_CONFLICT, [{"path": 1, "action": "overwrite"}], "path"),
    (protocol.INTERRUPT, [{"now": True}], "no argument"),
    (protocol.RESTART, [1], "no argument"),
    (protocol.DESTROY, ["yes"], "no argument"),
    (protocol.SESSION_INFO, [{}], "no argument"),
    (protocol.SESSION_LOGS, [[]], "no argument"),
    (protocol.SYNC_WORKSPACE, [{"all": 1}], "no argument"),
    (protocol.TERMINAL_DESCRIPTOR, [0], "object"),
    (protocol.TERMINAL_DESCRIPTOR, [{"since": "12"}], "since"),
    (protocol.ATTACH_SESSION, [{"session": 7}], "session"),
    (protocol.ATTACH_SESSION, [{"session": "x", "destroyCurrent": "yes"}], "destroy_current"),
    (protocol.ATTACH_SESSION, [], "argument"),
    (protocol.LIST_SESSIONS, [{"limit": "10"}], "limit"),
    (protocol.NEW_SESSION, [{"destroyCurrent": 1}], "destroy_current"),
]


@pytest.mark.parametrize(("name", "arguments", "named"), WRONG_ARGUMENTS)
async def test_command_arguments_of_the_wrong_type_get_invalid_params(
    client: LanguageClient, bridge: Recorder, name: str, arguments: list[Any], named: str
) -> None:
    shown = len(client.messages)
    params = types.ExecuteCommandParams(command=name, arguments=arguments)
    with pytest.raises(JsonRpcException) as raised:
        async with asyncio.timeout(LIMIT):
            await client.workspace_execute_command_async(params)
    assert raised.value.code == INVALID_PARAMS
    assert name in raised.value.message
    assert named in raised.value.message
    assert len(client.messages) == shown  # refused before anything was attempted


def run_arguments(name: str, uri: str) -> dict[str, Any]:
    if name == protocol.RUN_SELECTION:
        where = {"line": 0, "character": 0}
        return {"uri": uri, "range": {"start": where, "end": where}}
    if name in (protocol.RUN_FILE, protocol.RUN_FILE_AS_JOB):
        return {"uri": uri}
    return {"uri": uri, "line": 0}


RUNS = [
    protocol.RUN_SELECTION,
    protocol.RUN_CELL,
    protocol.RUN_CELLS_ABOVE,
    protocol.RUN_FILE,
    protocol.RUN_FILE_AS_JOB,
]


@pytest.mark.parametrize("name", RUNS)
async def test_no_run_command_runs_a_file_neither_open_nor_in_the_workspace(
    client: LanguageClient, bridge: Recorder, tmp_path: Path, name: str
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("# %%\nprint('ran outside')\n# %%\nprint('ran outside')\n")
    shown = len(client.messages)
    async with asyncio.timeout(LIMIT):
        result = await command(client, name, run_arguments(name, uri_of(outside)))
    assert result is None
    said = " ".join(m.message for m in client.messages[shown:])
    assert "inside a workspace folder" in said
    assert not any(o.get("uri") == uri_of(outside) for o in bridge.outputs)


@pytest.mark.parametrize("name", RUNS)
async def test_a_fifo_named_by_a_run_is_refused_without_reading_it(
    client: LanguageClient, bridge: Recorder, workspace: Path, name: str
) -> None:
    fifo = workspace / f"pipe-{name.rpartition('.')[2]}.py"
    os.mkfifo(fifo)
    shown = len(client.messages)
    async with asyncio.timeout(LIMIT):
        result = await command(client, name, run_arguments(name, uri_of(fifo)))
    assert result is None
    said = " ".join(m.message for m in client.messages[shown:])
    assert "not a regular file" in said


async def test_a_fifo_named_by_a_completion_or_code_lens_gets_nothing_at_once(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    fifo = workspace / "pipe-complete.py"
    os.mkfifo(fifo)
    where = types.TextDocumentIdentifier(uri=uri_of(fifo))
    async with asyncio.timeout(LIMIT):
        answer = await client.text_document_completion_async(
            types.CompletionParams(text_document=where, position=types.Position(0, 0))
        )
        lenses = await client.text_document_code_lens_async(types.CodeLensParams(where))
    assert answer is None
    assert not lenses
    uri = open_doc(client, workspace / "after_fifo.py", "import os\nos.pa")
    async with asyncio.timeout(LIMIT):  # and the event loop is not stuck on the FIFO
        found = await complete(client, uri, 1, 5)
    assert "path" in {item.label for item in found.items}


async def test_positions_past_the_end_of_a_document_get_an_empty_answer(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "short.py", "x = 1\ny = 2")
    last = 2**31 - 1  # the largest line LSP allows
    where = types.TextDocumentIdentifier(uri=uri)
    async with asyncio.timeout(LIMIT):
        answer = await client.text_document_completion_async(
            types.CompletionParams(text_document=where, position=types.Position(last, last))
        )
        far = {"line": last, "character": 3}
        selection = {"uri": uri, "range": {"start": far, "end": {"line": last, "character": 9}}}
        ran = await command(client, protocol.RUN_SELECTION, selection)
        cell = await command(client, protocol.RUN_CELLS_ABOVE, {"uri": uri, "line": -1})
    assert answer is None
    assert ran is None  # nothing to run there
    assert cell is None
