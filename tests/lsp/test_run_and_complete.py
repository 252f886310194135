"""bai-bridge end to end over stdio, against the embedded session server it starts itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import (
    Recorder,
    change_doc,
    command,
    complete,
    field,
    open_doc,
    run_cell,
    run_selection,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"ws-{profile}")


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
    assert (item.kind, item.detail) == (types.CompletionItemKind.Variable, "list len 0")


async def test_completes_an_attribute_of_a_live_object_from_the_session(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    text = 'probe = type("Probe", (), {"attr_count": 1})()\nprobe.attr_c\n'
    uri = open_doc(client, workspace / "probe.py", text)
    result = await run_selection(client, uri, 0)
    assert field(result, "status") == "finished"
    answer = await complete(client, uri, 1, 12)
    labels = {item.label: item for item in answer.items}
    assert "attr_count" in labels, list(labels)
    item = labels["attr_count"]
    assert item.text_edit is not None
    assert item.text_edit.range.start.character == 6  # replaces "attr_c", keeps "probe."
    assert item.detail == "instance"  # the mirror's kind of the live attribute, either profile


CELLS = """# %% setup
import math
value = 6 * 7

# %% show
print("value is", value)

# %% broken
a = 1
b = 0
print(a / b)
"""


async def test_cell_output_streams_and_a_traceback_lands_on_its_line(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "cells.py", CELLS)
    await run_cell(client, uri, 1)
    shown = await run_cell(client, uri, 5)
    run_id = field(shown, "runId")
    assert "value is 42" in bridge.text(run_id)
    events = [o["event"] for o in bridge.run_outputs(run_id)]
    assert events[-1] == "end"
    assert events.count("end") == 1

    broken = await run_cell(client, uri, 8)  # the cell starts at line 7; its 4th line raises
    assert field(broken, "status") == "failed"
    assert bridge.run_outputs(field(broken, "runId"))[-1]["status"] == "failed"
    diagnostics = await bridge.wait_for("the diagnostic", lambda: client.diagnostics.get(uri))
    [diagnostic] = diagnostics
    assert diagnostic.range.start.line == 10
    assert "ZeroDivisionError" in diagnostic.message

    fixed = CELLS.replace("b = 0", "b = 2")
    change_doc(client, uri, fixed, 2)
    await run_cell(client, uri, 8)
    cleared = lambda: list(client.diagnostics.get(uri, [None])) == []  # noqa: E731
    await bridge.wait_for("cleared diagnostics", cleared)


async def test_a_short_run_ends_with_its_result_in_the_end_notification(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "short.py", "6 * 7\n")
    result = await run_selection(client, uri, 0)
    notes = bridge.run_outputs(field(result, "runId"))
    # Announced only if it lasted 20 ms (a loaded machine); never a separate "output".
    assert [n["event"] for n in notes] in (["end"], ["start", "end"])
    end = notes[-1]
    assert (end["label"], end["uri"], end["status"]) == ("short.py, line 1", uri, "finished")
    assert end["items"] == [{"kind": "stdout", "data": "42\n"}]


async def test_a_longer_run_is_announced_before_it_ends(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "slow.py", "import time; time.sleep(0.3)\n")
    result = await run_selection(client, uri, 0)
    notes = bridge.run_outputs(field(result, "runId"))
    assert [n["event"] for n in notes] == ["start", "end"]
    assert (notes[0]["label"], notes[0]["uri"]) == ("slow.py, line 1", uri)


async def test_a_plotting_cell_sends_a_png(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    code = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [3, 1, 2])\nplt.show()\n"
    uri = open_doc(client, workspace / "plot.py", code)
    result = await run_cell(client, uri, 0)
    media = [
        item
        for o in bridge.run_outputs(field(result, "runId"))
        for item in o.get("items", [])
        if item["kind"] == "media"
    ]
    assert media
    assert media[0]["mime"] == "image/png"
    assert media[0]["data"].startswith("data:image/png;base64,")


async def test_code_lenses_on_every_cell(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "lenses.py", CELLS)
    lenses = await client.text_document_code_lens_async(
        types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    assert lenses is not None
    titles = [(lens.range.start.line, lens.command.title) for lens in lenses if lens.command]
    assert titles == [
        (0, "Run Cell"),
        (4, "Run Cell"),
        (4, "Run Above"),
        (7, "Run Cell"),
        (7, "Run Above"),
    ]


async def test_input_is_asked_of_the_client(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "ask.py", "name = input('who? ')\nprint('hello', name)\n")
    bridge.input_answers.append("ada")
    result = await run_cell(client, uri, 0)
    assert "hello ada" in bridge.text(field(result, "runId"))
    assert bridge.input_prompts[-1]["prompt"] == "who? "


async def _progress_token(client: LanguageClient, bridge: Recorder, known: set[str]) -> str:
    def fresh() -> str | None:
        for token, reports in client.progress_reports.items():
            if str(token).startswith("bai-bridge/run/") and token not in known and reports:
                return str(token)
        return None

    return str(await bridge.wait_for("a run's progress", fresh))


async def test_completion_answers_while_a_long_run_goes_on_and_cancel_stops_it(
    client: LanguageClient, bridge: Recorder, workspace: Path, profile: str
) -> None:
    uri = open_doc(
        client,
        workspace / "slow.py",
        "busy_defined = 1; import time; time.sleep(20)\nwhile True: pass\nresult_ok = 1\n"
        "result_\nbusy_d\n",
    )
    known = {str(t) for t in client.progress_reports}
    sleeping = asyncio.create_task(run_selection(client, uri, 0))
    token = await _progress_token(client, bridge, known)
    await bridge.wait_for("busy", lambda: bridge.state() == "busy")

    started = time.monotonic()
    answer = await complete(client, uri, 0, 26)  # `import t|`: the module name
    elapsed = time.monotonic() - started
    assert elapsed < 3.0  # completion_timeout (1 s) plus the static fallback's own time
    assert any(item.label == "time" for item in answer.items)
    # A name the running cell defined. Embedded: its subshell answers from the live session.
    # Cluster: nothing may run beside the cell, so jedi answers from the buffer, and says so.
    answer = await complete(client, uri, 4, 6)
    assert time.monotonic() - started < 6.0
    source = {"embedded": "bai-bridge: session", "cluster": "bai-bridge: static"}[profile]
    assert ("busy_defined", source) in {(item.label, item.detail) for item in answer.items}

    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(sleeping, 30)
    assert field(result, "status") == "interrupted"

    known.add(token)
    spinning = asyncio.create_task(run_selection(client, uri, 1))
    token = await _progress_token(client, bridge, known)
    client.window_work_done_progress_cancel(types.WorkDoneProgressCancelParams(token=token))
    result = await asyncio.wait_for(spinning, 30)
    assert field(result, "status") == "interrupted"
    ends = client.progress_reports[token]
    assert isinstance(ends[-1], types.WorkDoneProgressEnd)

    after = await run_selection(client, uri, 2)
    assert field(after, "status") == "finished"
    answer = await complete(client, uri, 3, 7)
    assert "result_ok" in [item.label for item in answer.items]


async def test_run_cells_above_runs_every_earlier_cell(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    text = "# %% one\nabove_a = 1\n# %% two\nabove_b = above_a + 1\n# %% three\nprint(above_b)\n"
    uri = open_doc(client, workspace / "above.py", text)
    result = await command(client, protocol.RUN_CELLS_ABOVE, {"uri": uri, "line": 5})
    assert field(result, "status") == "finished"
    shown = await run_cell(client, uri, 5)
    assert bridge.text(field(shown, "runId")).strip() == "2"


async def test_the_interrupt_command_stops_a_run_without_a_diagnostic(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(
        client, workspace / "spin.py", "print('spinning', flush=True)\nwhile True: pass\n"
    )
    where = {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}
    spinning = asyncio.create_task(
        command(client, protocol.RUN_SELECTION, {"uri": uri, "range": where})
    )
    spins = lambda: any("spinning" in bridge.text(o["runId"]) for o in bridge.outputs)  # noqa: E731
    await bridge.wait_for("the loop to start", spins)
    await command(client, protocol.INTERRUPT)
    result = await asyncio.wait_for(spinning, 30)
    assert field(result, "status") == "interrupted"
    assert bridge.run_outputs(field(result, "runId"))[-1]["status"] == "interrupted"
    assert "KeyboardInterrupt" in bridge.text(field(result, "runId"), "stderr")
    await bridge.wait_for("running", lambda: bridge.state() == "running")
    assert list(client.diagnostics.get(uri, [])) == []


async def test_a_clean_run_sends_no_diagnostics_and_a_longer_run_shows_progress_that_ends(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "quiet.py", "import time; time.sleep(0.5)\n")
    known = {str(t) for t in client.progress_reports}
    result = await run_selection(client, uri, 0)
    assert field(result, "status") == "finished"
    assert uri not in client.diagnostics  # none before, none after: nothing was published
    fresh = [t for t in client.progress_reports if str(t).startswith("bai-bridge/run/")]
    [token] = [t for t in fresh if str(t) not in known]
    reports = client.progress_reports[token]
    assert isinstance(reports[0], types.WorkDoneProgressBegin)
    assert isinstance(reports[-1], types.WorkDoneProgressEnd)
