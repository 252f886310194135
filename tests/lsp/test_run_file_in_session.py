"""Run File runs the file in the session's namespace, as Spyder's runfile does: ``__file__``,
``sys.argv``, ``__name__`` and the working directory are the file's for the run (and put back
after it), a sibling module imports, the file's names stay for the next runs and the mirror,
``plt.show()`` draws into the output, ``input()`` is answered, and a traceback or a syntax
error points at the file's own line. Run File as Job runs it in a process of its own and
leaves the namespace alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, complete, field, open_doc, run_selection

pytestmark = pytest.mark.asyncio(loop_scope="module")

MAIN = """\
import json, os, sys
from greeting import greet

answer = 6 * 7
seen = {"file": __file__, "argv": sys.argv, "cwd": os.getcwd(), "name": __name__}
print(greet("run file"))
print("seen=" + json.dumps(seen))
"""
AFTER = (
    "print(json.dumps({'answer': answer, 'cwd': os.getcwd(), 'file': '__file__' in globals(), "
    "'argv': sys.argv, 'path': sys.path[:3], 'helpers': sorted(k for k in globals() "
    "if 'bai' in k.lower() or k in ('REL', 'SOURCE', 'USER_NS', 'main', 'locate'))}))\n"
)
BROKEN = """\
def ratio(a, b):
    return a / b


total = 1
ratio(total, 0)
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    root = tmp_path_factory.mktemp(f"run-in-session-{profile}")
    (root / "app").mkdir()
    (root / "app" / "greeting.py").write_text("def greet(who):\n    return 'hello ' + who\n")
    return root


async def run_file(client: LanguageClient, uri: str, as_job: bool = False) -> Any:
    name = protocol.RUN_FILE_AS_JOB if as_job else protocol.RUN_FILE
    return await command(client, name, {"uri": uri})


def printed_json(bridge: Recorder, run_id: str, prefix: str = "") -> dict[str, Any]:
    lines = [line for line in bridge.text(run_id).splitlines() if line.startswith(prefix)]
    assert lines, bridge.text(run_id)
    decoded: dict[str, Any] = json.loads(lines[-1][len(prefix) :])
    return decoded


async def test_the_file_runs_as_main_in_its_folder_and_its_names_stay(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    await command(client, protocol.SYNC_WORKSPACE)  # the sibling is in the session
    uri = open_doc(client, workspace / "app" / "main.py", MAIN)
    result = await run_file(client, uri)
    assert field(result, "status") == "finished"
    run_id = field(result, "runId")
    assert "hello run file\n" in bridge.text(run_id)  # the sibling module imported
    seen = printed_json(bridge, run_id, "seen=")
    path = seen["file"]
    assert path.startswith("/"), path
    assert path.endswith("/app/main.py"), path
    assert seen["argv"] == [path]
    assert seen["cwd"] == path.rsplit("/", 1)[0]
    assert seen["name"] == "__main__"
    assert bridge.run_outputs(run_id)[-1]["label"] == "app/main.py"

    after = open_doc(client, workspace / "after.py", AFTER)
    state = printed_json(bridge, field(await run_selection(client, after, 0), "runId"))
    assert state["answer"] == 42  # the file's names stay in the session
    assert state["cwd"] == path.rsplit("/", 2)[0]  # the work dir again
    assert state["file"] is False  # __file__ was the run's only
    assert state["argv"] != [path]
    assert path.rsplit("/", 1)[0] not in state["path"]
    assert state["helpers"] == []  # the wrapper left no name of its own

    listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
    assert "answer" in {v.name for v in listed.variables}
    typing = open_doc(client, workspace / "typing.py", "answ\n")
    found = {item.label: item for item in (await complete(client, typing, 0, 4)).items}
    assert found["answer"].detail == "int"


async def test_a_traceback_points_at_the_files_own_line(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "broken.py", BROKEN)
    result = await run_file(client, uri)
    assert field(result, "status") == "failed"
    stderr = bridge.text(field(result, "runId"), "stderr")
    assert 'broken.py", line 6, in <module>' in stderr, stderr
    assert 'broken.py", line 2, in ratio' in stderr, stderr
    assert "ZeroDivisionError: division by zero" in stderr
    for wrapper in ("Cell In[", "<string>", "run_file_in_kernel", "exec("):
        assert wrapper not in stderr, stderr
    diagnostics = await bridge.wait_for("the diagnostic", lambda: client.diagnostics.get(uri))
    assert [d.range.start.line for d in diagnostics] == [1]
    assert "ZeroDivisionError" in diagnostics[0].message


async def test_a_syntax_error_is_reported_on_its_line(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "unclosed.py", "x = 1\ny = (\n    x,\n")
    result = await run_file(client, uri)
    assert field(result, "status") == "failed"
    stderr = bridge.text(field(result, "runId"), "stderr")
    assert 'unclosed.py", line 2' in stderr, stderr
    assert "SyntaxError" in stderr
    diagnostics = await bridge.wait_for("the diagnostic", lambda: client.diagnostics.get(uri))
    assert [d.range.start.line for d in diagnostics] == [1]


async def test_plots_and_input_work_as_in_a_cell(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "name = input('who? ')\n"
        "plt.plot([1, 2, 3], [3, 1, 2])\n"
        "plt.show()\n"
        "print('drawn for', name)\n"
    )
    uri = open_doc(client, workspace / "plot.py", code)
    bridge.input_answers.append("ada")
    result = await run_file(client, uri)
    assert field(result, "status") == "finished"
    run_id = field(result, "runId")
    assert "who? ada\n" in bridge.text(run_id)
    assert "drawn for ada\n" in bridge.text(run_id)
    media = [
        item
        for o in bridge.run_outputs(run_id)
        for item in o.get("items", [])
        if item["kind"] == "media"
    ]
    assert [m["mime"] for m in media] == ["image/png"]


@pytest.mark.parametrize(("code", "status"), [(0, "finished"), (3, "failed")])
async def test_sys_exit_ends_the_file(
    client: LanguageClient, bridge: Recorder, workspace: Path, code: int, status: str
) -> None:
    text = f"import sys\nprint('leaving')\nsys.exit({code})\nprint('never')\n"
    uri = open_doc(client, workspace / f"exits_{code}.py", text)
    result = await run_file(client, uri)
    assert field(result, "status") == status
    assert bridge.text(field(result, "runId")) == "leaving\n"


async def test_run_file_as_job_leaves_the_namespace_alone(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "job.py", "job_only = 1\nprint('job ran')\n")
    result = await run_file(client, uri, as_job=True)
    assert (field(result, "status"), field(result, "exitCode")) == ("finished", 0)
    assert bridge.text(field(result, "runId")) == "job ran\n"
    assert bridge.run_outputs(field(result, "runId"))[-1]["label"] == "job.py (job)"
    probe = open_doc(client, workspace / "probe.py", "print('job_only' in globals())\n")
    assert bridge.text(field(await run_selection(client, probe, 0), "runId")) == "False\n"


def demo_example() -> str:
    """The `example.py` that `scripts/run-editor` opens in its demo workspace."""
    script = (Path(__file__).parents[2] / "scripts" / "run-editor").read_text()
    start = script.index("example.py\" <<'EOF'\n")
    body = script[start:].split("\n", 1)[1]
    return body[: body.index("\nEOF\n") + 1]


async def test_the_demo_example_draws_and_keeps_its_names_when_run_as_a_file(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "example.py", demo_example())
    result = await run_file(client, uri)
    assert field(result, "status") == "finished"
    outputs = bridge.run_outputs(field(result, "runId"))
    kinds = [item["kind"] for o in outputs for item in o.get("items", [])]
    assert "media" in kinds  # plt.show() drew into the output
    listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
    assert "squares" in {v.name for v in listed.variables}
