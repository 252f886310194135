"""The session terminal, end to end. Across a destroy: the status says "destroying" before the
session's shell ends (so the editor takes that end for the session's, not for a drop to retry)
and "terminated" after it; the next session's terminal, asked for all it kept (as the editor
asks when it attaches to another shell), shows its prompt before any key is pressed. Its home:
the embedded server presents the work folder as HOME (not at /home/work: see
local/session_home.py), to the shell, to runs and to files run alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, field, open_doc, run_selection
from .test_drops import terminal

pytestmark = pytest.mark.asyncio(loop_scope="module")

PROMPT = re.compile(rb"[$#] $")  # the end of a shell's prompt, waiting for a key


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"terminal-{profile}")


@pytest.fixture(scope="module")
def bridge_options() -> dict[str, object]:
    return {"syncOnStart": False}


async def test_after_a_destroy_the_next_sessions_terminal_shows_its_prompt(
    client: LanguageClient, bridge: Recorder, workspace: Path, profile: str
) -> None:
    first = bridge.statuses[-1]["sessionId"]
    async with terminal(client, -1) as old:
        await old.type("echo before-$((1+1))\n")
        await old.until(b"before-2\r\n")
        seen = len(bridge.statuses)
        await command(client, protocol.DESTROY)
        await old.closed()
    assert [s["state"] for s in bridge.statuses[seen:]] == ["destroying", "terminated"]

    uri = open_doc(client, workspace / "again.py", "print('again', 2 + 3)\n")
    await run_selection(client, uri, 0)  # the next action starts a new session
    assert bridge.statuses[-1]["sessionId"] not in (None, first)
    async with terminal(client, 0) as new:
        await new.until(PROMPT.search)  # no key pressed
        # The embedded server replays the new shell's output from its first byte; a cluster
        # keeps none, and the shell, started by this attach, writes its prompt to it live.
        assert [r["from"] for r in new.replays] == ([0] if profile == "embedded" else [])
        await new.type("echo after-$((2+2))\n")
        await new.until(b"after-4\r\n")
    assert b"before-2" not in new.seen


HOMES = """\
import json, os, sys
print("homes:" + json.dumps({
    "cwd": os.getcwd(),
    "home": os.path.expanduser("~"),
    "file": os.path.dirname(os.path.abspath(__file__)),
    "cache": os.environ.get("XDG_CACHE_HOME", ""),
    "user_base": os.environ.get("PYTHONUSERBASE", ""),
}))
"""


async def test_home_is_the_work_folder_for_the_shell_and_the_runs(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    """The shell, a run and a file run all see the work folder as HOME and as where they are;
    the prompt does not show the host's path of it (``~`` where the prompt shows the folder);
    the person's caches and user packages are left where they are."""
    async with terminal(client, -1) as shell:
        await shell.type('cd /; cd; echo "at:$PWD:home:$HOME:prompt:${PS1@P}:end"\n')
        await shell.until(re.compile(rb"at:([^:\r\n]*):home:\1:prompt:.*:end\r\n").search)
        line = re.search(rb"at:([^:\r\n]*):home:.*:prompt:(.*):end\r\n", shell.seen)
        assert line is not None
        work, prompt = line[1].decode(), line[2].decode()
    assert work not in prompt, prompt

    uri = open_doc(client, workspace / "homes.py", HOMES)
    ran = await command(client, protocol.RUN_FILE, {"uri": uri})
    text = bridge.text(field(ran, "runId"))
    homes = json.loads(text.split("homes:", 1)[1].splitlines()[0])
    assert homes["cwd"] == homes["home"] == homes["file"] == work
    for kept in (homes["cache"], homes["user_base"]):
        assert kept
        assert not kept.startswith(work)
