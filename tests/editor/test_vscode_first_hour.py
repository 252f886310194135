"""The first hour in a real VS Code (code-server in headless Chromium, driven by playwright-core)
against the embedded backend: the session starts when the workspace opens, before any file is
opened; Shift+Enter and Ctrl+Enter run the line as typed while the suggestion list is open
(the list open at the end of a typed line used to swallow them); Run File runs the file in
the session's namespace (its plot shows, its names stay for the next run; Run File as Job is
a command of its own); the session terminal re-attaches by itself after Restart Session, and
after Destroy Session attaches to the next session's shell once a run starts one; the
language server's log lines keep their levels in the "Backend.AI Bridge" channel. Screenshots
and logs go to test-artifacts/editor-first-hour/ (the path is printed).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from editor_harness import artifacts_dir, build_vsix, code_server, drive, editor_tools

pytestmark = pytest.mark.editor

PLOTTED = """\
import matplotlib.pyplot as plt

plotted_value = "from-file-" + str(6 * 7)
plt.plot([1, 2, 3], [3, 1, 2])
plt.show()
"""


def test_the_first_hour_in_vscode(tmp_path: Path) -> None:
    tools = editor_tools()
    if tools is None:
        pytest.skip("the real-editor tools are not installed: run `bash scripts/setup-editor`")
    artifacts = artifacts_dir("editor-first-hour")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "seen.py").write_text('bridge_seen = "seen-" + str(6 * 7)\n')
    (workspace / "plotted.py").write_text(PLOTTED)
    vsix = build_vsix(tmp_path / "bai-bridge.vsix")
    logs = artifacts / "logs"

    with code_server(tools, vsix, tmp_path / "editor", workspace, logs) as editor:
        steps = drive(
            tools,
            editor,
            {
                "scenario": "first-hour",
                "artifacts": str(artifacts),
                "fileName": "seen.py",
                "runFileName": "plotted.py",
                "runFileProbe": "plotted_value",
                "runFileExpect": "'from-file-42'",
                "waitMs": 120_000,
            },
        )

    started = steps["started-without-file"]
    assert started["tabs"] == 0, "the session started before any file was opened"
    for step in ("shift-enter-with-suggestions", "ctrl-enter-with-suggestions"):
        assert steps[step]["listOpen"] == 0, f"{step}: the run closed the suggestion list"
    assert steps["shift-enter-with-suggestions"]["line"].strip() == "bridge_seen"
    assert steps["ctrl-enter-with-suggestions"]["line"].strip() == "bridge_seen.upper"
    run_file = steps["run-file"]
    assert "Backend.AI: Run File as Job" in run_file["titles"], run_file["titles"]
    width, height = run_file["png"]
    assert width > 100, "Run File's plot is drawn in the output view"
    assert height > 100
    terminal = steps["terminal-after-restart"]
    assert terminal["keptScreen"], "the terminal's screen survives the restart"
    assert not terminal["askedForKey"], "the terminal re-attached without a key press"
    recreated = steps["terminal-after-destroy"]
    assert not recreated["askedForKey"], "after Destroy Session, no key press is asked for"
    assert recreated["keptScreen"], "the terminal's screen survives the new session"

    channels = sorted(logs.glob("*/exthost*/bai-bridge.bai-bridge/Backend.AI Bridge.log"))
    assert len(channels) == 1, f"one extension host's log channel, not {channels}"
    [channel] = channels
    text = channel.read_text()
    assert re.search(r"\[info\] bai_bridge\.\S+: ", text), text[-2000:]
    stamped = re.compile(r"\[\w+\] \d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")
    assert not stamped.search(text), "server records are logged at their own level"
