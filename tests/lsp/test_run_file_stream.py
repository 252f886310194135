"""Run File (in the session's namespace) and Run File as Job go over the execute WebSocket:
their output reaches the editor while the script runs, and cancelling the progress stops the
script (the server interrupts on close)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, field, open_doc

pytestmark = pytest.mark.asyncio(loop_scope="module")
WAIT = 60.0
WAYS = pytest.mark.parametrize("way", [protocol.RUN_FILE, protocol.RUN_FILE_AS_JOB])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"streamed-{profile}")


def gated(gate: Path, before: str, after: str) -> str:
    """A script that prints ``before``, waits for ``gate`` to exist, then prints ``after``."""
    return (
        "import os, time\n"
        f"print({before!r}, flush=True)\n"
        f"while not os.path.exists({str(gate)!r}):\n"
        "    time.sleep(0.01)\n"
        f"print({after!r})\n"
    )


def printed(bridge: Recorder, text: str) -> bool:
    return any(text in item["data"] for o in bridge.outputs for item in o.get("items", []) or [])


@WAYS
async def test_a_script_output_shows_while_it_runs(
    client: LanguageClient, bridge: Recorder, workspace: Path, tmp_path: Path, way: str
) -> None:
    gate = tmp_path / "gate"
    uri = open_doc(client, workspace / "gated.py", gated(gate, "warming up", "all done"))
    running = asyncio.create_task(command(client, way, {"uri": uri}))
    try:
        await bridge.wait_for("the first line", lambda: printed(bridge, "warming up"), WAIT)
        assert not running.done()
    finally:
        gate.touch()  # never leave the script waiting: later runs queue behind it
    result = await asyncio.wait_for(running, WAIT)
    assert field(result, "status") == "finished"
    assert bridge.text(field(result, "runId")) == "warming up\nall done\n"


@WAYS
async def test_cancelling_a_script_stops_it(
    client: LanguageClient, bridge: Recorder, workspace: Path, tmp_path: Path, way: str
) -> None:
    gate = tmp_path / "never"
    stuck = f"stuck now ({way})"
    uri = open_doc(client, workspace / "stuck.py", gated(gate, stuck, "unreachable"))
    known = {str(t) for t in client.progress_reports}
    running = asyncio.create_task(command(client, way, {"uri": uri}))
    await bridge.wait_for("the first line", lambda: printed(bridge, stuck), WAIT)

    def token() -> str | None:
        fresh = [t for t in client.progress_reports if str(t).startswith("bai-bridge/run/")]
        return next((str(t) for t in fresh if str(t) not in known), None)

    cancel = types.WorkDoneProgressCancelParams(token=await bridge.wait_for("progress", token))
    client.window_work_done_progress_cancel(cancel)
    result = await asyncio.wait_for(running, WAIT)
    assert field(result, "status") == "interrupted"
    assert not printed(bridge, "unreachable")

    again = open_doc(client, workspace / "quick.py", "print('next one')\n")
    after = await asyncio.wait_for(command(client, way, {"uri": again}), WAIT)
    assert field(after, "status") == "finished"
    assert bridge.text(field(after, "runId")) == "next one\n"
