"""The namespace mirror end to end over stdio, on both server profiles: completion with kinds
and live types, hover, signature help and completion resolve, answered from the mirror while a
cell still runs (on the cluster profile complete() answers nothing and no subshell answers
beside the cell: all of it is the mirror's); and no completion runs code in the user's kernel
(the kernel takes an execute request only for runs and their snapshots)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, complete, field, open_doc, run_cell, run_selection

pytestmark = pytest.mark.asyncio(loop_scope="module")

SETUP = '''# %% setup
import pandas as pd
frame = pd.DataFrame({"price": [1.5, 2.5], "qty": [3, 4]})
def scale(values: list, factor: float = 2.0) -> list:
    """Multiply every value by factor."""
    return [v * factor for v in values]
class Box:
    weight_kg = 3
box = Box()
'''
TYPING = "# %% typing\nfra\nframe.pr\nbox.we\nscale\nscale([1], \n"  # lines 9-14 after SETUP


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"ws-{profile}")


async def hover(client: LanguageClient, uri: str, line: int, col: int) -> str | None:
    result = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col),
        )
    )
    if result is None:
        return None
    assert isinstance(result.contents, str)  # plain: the client names no markup format
    return result.contents


async def items(
    client: LanguageClient, uri: str, line: int, col: int
) -> dict[str, types.CompletionItem]:
    return {item.label: item for item in (await complete(client, uri, line, col)).items}


async def test_completion_and_hover_come_from_the_mirror_during_a_running_cell(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    text = SETUP + TYPING + "# %% slow\nimport time; time.sleep(60)\n"
    uri = open_doc(client, workspace / "live.py", text)
    assert field(await run_cell(client, uri, 1), "status") == "finished"
    slow = asyncio.create_task(run_cell(client, uri, 16))
    await bridge.wait_for("busy", lambda: bridge.state() == "busy")

    found = await items(client, uri, 10, 3)
    assert found["frame"].kind == types.CompletionItemKind.Variable
    assert found["frame"].detail == "DataFrame (2, 2)"  # only the mirror knows the shape
    assert "price" in await items(client, uri, 11, 8)  # a column, from the mirror
    assert "weight_kg" in await items(client, uri, 12, 6)
    found = await items(client, uri, 13, 5)
    assert found["scale"].kind == types.CompletionItemKind.Function
    assert "(values: list, factor: float = 2.0) -> list" in (found["scale"].detail or "")

    shown = await hover(client, uri, 11, 2)
    assert shown is not None
    assert "frame: DataFrame (2, 2)" in shown
    assert "columns: price, qty" in shown  # plain text: the client asked for no markdown
    shown = await hover(client, uri, 13, 2)
    assert shown is not None
    assert "Multiply every value by factor." in shown
    assert await hover(client, uri, 10, 1) is None  # `fra` names nothing

    helped = await client.text_document_signature_help_async(
        types.SignatureHelpParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=14, character=11),
        )
    )
    assert helped is not None
    [signature] = helped.signatures
    assert signature.label == "scale(values: list, factor: float = 2.0) -> list"
    assert helped.active_parameter == 1
    assert signature.parameters is not None
    start, end = signature.parameters[1].label
    assert signature.label[start:end] == "factor: float = 2.0"

    resolved = await client.completion_item_resolve_async(found["scale"])
    assert isinstance(resolved.documentation, str)
    assert "Multiply every value by factor." in resolved.documentation

    listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
    names = {v.name: v for v in listed.variables}
    assert (names["frame"].summary, names["frame"].columns) == (
        "DataFrame (2, 2)",
        ["price", "qty"],
    )
    assert (names["pd"].kind, names["scale"].kind, names["Box"].kind) == (
        "module",
        "function",
        "class",
    )
    assert "time" not in names  # imported by the running cell: the snapshot comes after it

    assert not slow.done()  # all of the above answered while the cell ran
    await command(client, protocol.INTERRUPT)
    assert field(await asyncio.wait_for(slow, 30), "status") == "interrupted"


async def test_completions_run_no_code_in_the_kernel(
    client: LanguageClient, bridge: Recorder, workspace: Path, profile: str
) -> None:
    # Every execute request the kernel takes, silent ones too (IPython's pre_execute event):
    # the execution count alone would miss a silent query.
    hook = "ran = []; get_ipython().events.register('pre_execute', lambda: ran.append(1))\n"
    count = "print(get_ipython().execution_count, len(ran))\n"
    uri = open_doc(client, workspace / "count.py", SETUP + TYPING + count + hook)
    assert field(await run_cell(client, uri, 1), "status") == "finished"
    await run_selection(client, uri, 16)
    first = await run_selection(client, uri, 15)
    await client.protocol.send_request_async(protocol.VARIABLES, {})  # its snapshot is in
    before = [int(n) for n in bridge.text(field(first, "runId")).split()]
    for _ in range(10):
        for line, col in ((10, 3), (11, 8), (12, 6), (13, 5), (15, 4)):
            await complete(client, uri, line, col)
        await hover(client, uri, 11, 2)
    last = await run_selection(client, uri, 15)
    after = [int(n) for n in bridge.text(field(last, "runId")).split()]
    # Two executions since: the first count's snapshot and this count; none for fifty
    # completions and hovers. The snapshot is silent on our server; a cluster's manager
    # runs it as a cell, which the execution count shows.
    assert after[1] == before[1] + 2
    assert after[0] == before[0] + (1 if profile == "embedded" else 2)


async def test_a_restart_empties_the_mirror_until_its_next_snapshot(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "restart.py", SETUP)
    assert field(await run_cell(client, uri, 1), "status") == "finished"
    listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
    assert "frame" in {v.name for v in listed.variables}
    generation = listed.generation

    await command(client, protocol.RESTART)
    await bridge.wait_for("running", lambda: bridge.state() == "running")
    listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
    assert "frame" not in {v.name for v in listed.variables}
    assert listed.generation != generation


async def test_variables_asked_at_a_runs_end_list_what_that_run_defined(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    # A Variables view asks as soon as the run's end arrives: the snapshot that run started
    # is still under way then, and the answer waits for it.
    uri = open_doc(client, workspace / "fresh.py", "# %% fresh\nfresh_list = [1, 2, 3]\n")
    assert field(await run_cell(client, uri, 1), "status") == "finished"
    listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
    names = {v.name: v for v in listed.variables}
    assert "fresh_list" in names
    assert (names["fresh_list"].summary, names["fresh_list"].len) == ("list len 3", 3)
