"""The extension in a real VS Code whose interpreter setting is a plain virtual environment
without `bai_bridge`: the extension offers to install the language server into a private
environment, the offer is accepted, the server's wheel from the .vsix is installed there (its
dependencies from the local wheelhouse scripts/setup builds, `pip --no-index`, since tests
touch no package index), and the session then runs a line. Screenshots and logs go to
test-artifacts/editor-install/ (the path is printed).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from editor_harness import REPO, artifacts_dir, build_vsix, code_server, drive, editor_tools

pytestmark = pytest.mark.editor

WHEELHOUSE = REPO / ".cache" / "wheelhouse"
PUBLISHER_NAME = "bai-bridge.bai-bridge"


def test_install_offer_creates_a_private_server_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tools = editor_tools()
    if tools is None:
        pytest.skip("the real-editor tools are not installed: run `bash scripts/setup-editor`")
    if not (WHEELHOUSE / ".complete").exists():
        pytest.skip(f"no wheelhouse at {WHEELHOUSE}: run `bash scripts/setup`")
    for name in [name for name in os.environ if name.startswith("PIP_")]:
        monkeypatch.delenv(name)
    artifacts = artifacts_dir("editor-install")
    plain = tmp_path / "plain-venv"
    # From the project's Python, so the new environment has the wheelhouse's Python version.
    subprocess.run([str(REPO / ".venv/bin/python"), "-m", "venv", str(plain)], check=True)
    python = plain / "bin" / "python"
    lacks = subprocess.run([str(python), "-c", "import bai_bridge"], capture_output=True)
    assert lacks.returncode != 0, "the plain environment must not have bai_bridge"
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "hello.py").write_text('print("private", 6 * 7)\n')
    vsix = build_vsix(tmp_path / "bai-bridge.vsix")
    root = tmp_path / "editor"
    pip_env = {"BAI_BRIDGE_WHEELHOUSE": str(WHEELHOUSE), "PIP_CONFIG_FILE": os.devnull}

    with code_server(
        tools, vsix, root, workspace, artifacts / "logs", python=python, extra_env=pip_env
    ) as editor:
        steps = drive(
            tools,
            editor,
            {
                "scenario": "install",
                "artifacts": str(artifacts),
                "fileName": "hello.py",
                "expectText": "private 42",
                "waitMs": 150_000,
            },
        )

    assert str(python) in steps["install-offer"]["message"], "the offer names the interpreter"
    venv = root / "user-data" / "User" / "globalStorage" / PUBLISHER_NAME / "server-venv"
    assert steps["installed-run"]["serverPython"] == str(venv / "bin" / "python")
    check = [str(venv / "bin" / "python"), "-c", "import bai_bridge.cli, ipykernel, pygls"]
    subprocess.run(check, check=True)
