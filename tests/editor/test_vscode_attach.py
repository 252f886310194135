"""Attach to Session… in a real VS Code (code-server in headless Chromium, driven by
playwright-core) against the embedded backend: the picker lists "New session" first and each
session with its image, status and age; a new session starts without the first one's
variables, and picking the first one again works in it, its variables there. Screenshots and
logs go to test-artifacts/editor-attach/ (the path is printed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from editor_harness import artifacts_dir, build_vsix, code_server, drive, editor_tools

pytestmark = pytest.mark.editor


def test_attach_to_session_in_vscode(tmp_path: Path) -> None:
    tools = editor_tools()
    if tools is None:
        pytest.skip("the real-editor tools are not installed: run `bash scripts/setup-editor`")
    artifacts = artifacts_dir("editor-attach")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "seen.py").write_text('bridge_seen = "seen-" + str(6 * 7)\n')
    vsix = build_vsix(tmp_path / "bai-bridge.vsix")

    with code_server(tools, vsix, tmp_path / "editor", workspace, artifacts / "logs") as editor:
        steps = drive(
            tools,
            editor,
            {
                "scenario": "attach",
                "artifacts": str(artifacts),
                "fileName": "seen.py",
                "waitMs": 120_000,
            },
        )

    attach = steps["attach"]
    first, second = attach["first"], attach["second"]
    assert attach["back"] == first
    assert second.startswith(first)  # the workspace's name with a random tail
    new_row, *sessions = attach["before"]
    assert "New session" in new_row
    (listed,) = sessions
    assert listed.strip().startswith(first)
    assert "RUNNING · started " in listed
    assert "the session this editor works in" in listed
    assert len(attach["after"]) == 3
