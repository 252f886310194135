"""A multi-root workspace in a real VS Code (code-server in headless Chromium, driven by
playwright-core) against the embedded backend: opened from a two-folder `.code-workspace`,
Run File on a file of the second folder runs it in that folder's place in the session.
Screenshots and logs go to test-artifacts/editor-folders/ (the path is printed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from editor_harness import artifacts_dir, build_vsix, code_server, drive, editor_tools

pytestmark = pytest.mark.editor

SHOW = "import os\nprint('CWD=' + os.getcwd())\nprint('FILE=' + __file__)\n"


def test_a_file_of_the_second_folder_runs_in_its_place(tmp_path: Path) -> None:
    tools = editor_tools()
    if tools is None:
        pytest.skip("the real-editor tools are not installed: run `bash scripts/setup-editor`")
    artifacts = artifacts_dir("editor-folders")
    first, second = tmp_path / "app", tmp_path / "lib"
    first.mkdir()
    (first / "main.py").write_text("print('main')\n")
    (second / "tools").mkdir(parents=True)
    (second / "tools" / "where_am_i.py").write_text(SHOW)
    workspace = tmp_path / "two.code-workspace"
    workspace.write_text(json.dumps({"folders": [{"path": "app"}, {"path": "lib"}]}))
    vsix = build_vsix(tmp_path / "bai-bridge.vsix")

    with code_server(tools, vsix, tmp_path / "editor", workspace, artifacts / "logs") as editor:
        steps = drive(
            tools,
            editor,
            {
                "scenario": "folders",
                "artifacts": str(artifacts),
                "workspaceFile": str(workspace),
                "fileName": "where_am_i.py",
                "runLabel": "lib/tools/where_am_i.py",
                "waitMs": 120_000,
            },
        )

    printed = steps["folders"]["printed"]
    cwd = printed.split("CWD=", 1)[1].split()[0]
    assert cwd.endswith("/lib/tools"), printed  # the file's folder in the second folder's place
    assert "/lib/tools/where_am_i.py" in printed
