"""A run's output is tied back to the file: its label names the file, its traceback counts
the file's lines (not the cell's), and the answer typed into ``input()`` shows after the
prompt (a password's does not)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp.tracebacks import strip_ansi

from .lsp_harness import Recorder, field, open_doc, run_cell, run_selection

pytestmark = pytest.mark.asyncio(loop_scope="module")

CELLS = """# %% setup
value = 6 * 7

# %% broken
a = 1
b = 0
print(a / b)
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ws")


async def test_labels_name_the_file(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "pkg" / "labels.py", CELLS)
    line = await run_selection(client, uri, 1)
    assert bridge.run_outputs(field(line, "runId"))[-1]["label"] == "pkg/labels.py, line 2"
    cell = await run_cell(client, uri, 1)
    assert bridge.run_outputs(field(cell, "runId"))[-1]["label"] == "pkg/labels.py, cell at line 1"


async def test_a_traceback_counts_the_files_lines(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "broken.py", CELLS)
    await run_cell(client, uri, 1)
    result = await run_cell(client, uri, 4)  # the cell starts at line 4; its 4th line raises
    assert field(result, "status") == "failed"
    stderr = bridge.text(field(result, "runId"), "stderr")
    assert "broken.py, line 7" in stderr, stderr
    assert "Cell In[" not in stderr, stderr
    assert "----> 7 print(a / b)" in strip_ansi(stderr), stderr  # the listing's numbers too


async def test_the_answer_to_input_shows_after_its_prompt(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    code = "name = input('who? ')\nprint('hello', name)\n"
    uri = open_doc(client, workspace / "ask.py", code)
    bridge.input_answers.append("ada")
    result = await run_cell(client, uri, 0)
    assert "who? ada\nhello ada\n" in bridge.text(field(result, "runId"))


async def test_a_password_answer_is_not_shown(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    code = "import getpass\nsecret = getpass.getpass('token: ')\nprint(len(secret))\n"
    uri = open_doc(client, workspace / "secret.py", code)
    bridge.input_answers.append("hunter2")
    result = await run_cell(client, uri, 0)
    text = bridge.text(field(result, "runId"))
    assert "hunter2" not in text
    assert "7\n" in text
