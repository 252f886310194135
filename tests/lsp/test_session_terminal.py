"""The session terminal across a destroy, end to end: the status says "destroying" before the
session's shell ends (so the editor takes that end for the session's, not for a drop to retry)
and "terminated" after it; the next session's terminal, asked for all it kept (as the editor
asks when it attaches to another shell), shows its prompt before any key is pressed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, open_doc, run_selection
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
