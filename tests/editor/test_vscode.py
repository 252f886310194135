"""The extension in a real VS Code (code-server in headless Chromium, driven by playwright-core)
against the embedded backend: run a cell (text with ANSI colour, a pandas table, a matplotlib
PNG), answer input() in the input box, fold long output, complete a runtime-defined name, show
Session Info, open the session terminal from the status bar and echo, find a saved file in the
session, reconnect the terminal keeping its screen, open the terminal profile, survive a
killed language server, interrupt an endless loop from the command palette (the output view
labels the run "interrupted" and follows to it without the test scrolling), restart the session
(variables gone, files kept), destroy it (the status bar says so; the next run re-creates it),
see a run that raised labelled "failed", scroll up while a run streams (the view stays
put) and back down (it follows again), and see a run's variable in the Variables view.
Screenshots and logs go to test-artifacts/editor/ (the path is printed).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from editor_harness import artifacts_dir, build_vsix, code_server, drive, editor_tools

pytestmark = pytest.mark.editor

ANALYSIS = """\
# %% a cell with text, colour, a table and a plot
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import display

for suffix in ("alpha", "beta"):
    globals()["bridge_dyn_" + suffix] = len(suffix)
total = sum(v for k, v in globals().items() if k.startswith("bridge_dyn_"))
print("\\x1b[32mdynamic total\\x1b[0m", total)
display(pd.DataFrame({"x": [1, 2, 3], "y": [1, 4, 9]}))
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot([1, 2, 3, 4], [1, 4, 9, 16])
plt.show()

# %% another cell
print("second cell")
"""


def test_run_complete_terminal_and_sync_in_vscode(tmp_path: Path) -> None:
    tools = editor_tools()
    if tools is None:
        pytest.skip("the real-editor tools are not installed: run `bash scripts/setup-editor`")
    artifacts = artifacts_dir("editor")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "analysis.py").write_text(ANALYSIS)
    vsix = build_vsix(tmp_path / "bai-bridge.vsix")
    marker = f"saved-marker-{secrets.token_hex(4)}"

    with code_server(tools, vsix, tmp_path / "editor", workspace, artifacts / "logs") as editor:
        steps = drive(
            tools,
            editor,
            {
                "artifacts": str(artifacts),
                "fileName": "analysis.py",
                "cellLine": 3,
                "expectText": "dynamic total 9",
                "completionPrefix": "bridge_dyn_",
                "completionName": "bridge_dyn_alpha",
                "saveMarker": marker,
                "inputAnswer": "Ada",
                "waitMs": 120_000,
            },
        )

    run = steps["run-cell"]
    width, height = run["png"]
    assert width > 100, "the matplotlib PNG is shown at a real size"
    assert height > 100
    assert run["tables"] >= 1, "the pandas table is shown as HTML"
    assert run["colouredSpans"] >= 1, "ANSI colours are rendered"
    assert any("bridge_dyn_alpha" in label for label in steps["completion"]["labels"])
    assert steps["session-info"]["hasStatus"], "Session Info shows the session's status"
    assert "terminal-echo" in steps
    assert "input-box" in steps
    assert steps["folded-output"] == {"step": "folded-output", "shownBefore": 1, "shownAfter": 1}
    assert "saved-file" in steps
    assert steps["terminal-reconnect"]["keptScreen"], "the screen survives a reconnection"
    assert steps["terminal-profile"]["fresh"], "the profile opens a terminal of its own"
    toasts = steps["notifications"]["toasts"]
    assert not [t for t in toasts if "invalid" in t or "stopped" in t], toasts
    assert "restarting" in steps["server-restart"]["message"]
    assert (workspace / "analysis.py").read_text().rstrip().endswith(f"# {marker}")
    assert "interrupt" in steps, "an endless loop is interrupted and the next run works"
    assert steps["interrupt"]["label"].endswith(" · interrupted"), steps["interrupt"]
    restart = steps["restart-session"]
    assert restart["variableGone"], f"a restart clears the variables: {restart['text']}"
    assert restart["fileKept"], f"a restart keeps the session's files: {restart['text']}"
    destroy = steps["destroy-session"]
    # The status text goes on with the session's resources (" · 2 CPU 1% · ...") when known.
    assert re.search(r": terminated\b", destroy["terminated"]), destroy
    assert re.search(r": running\b", destroy["after"]), "the next run re-created the session"
    assert steps["failed-run"]["label"].endswith(" · failed"), steps["failed-run"]
    scrolled = steps["scrolled-up"]
    assert scrolled["stayedTop"] == scrolled["heldTop"], "output does not pull a reader down"
    variables = steps["variables-view"]
    assert "list len 3 = [1, 2, 3]" in variables["row"], variables
