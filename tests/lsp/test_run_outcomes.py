"""How runs end, as the editor is told: a run that ended badly is "failed", whatever the
backend's own status word; Run File runs only the file it just uploaded, and a job runs
it under its own name."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol
from bai_bridge.lsp.run_file import INLINE_LIMIT

from .lsp_harness import Recorder, command, field, open_doc, run_cell, run_selection

pytestmark = pytest.mark.asyncio(loop_scope="module")
WAIT = 60.0


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"outcomes-{profile}")


def printed(bridge: Recorder, text: str) -> bool:
    return any(text in item["data"] for o in bridge.outputs for item in o.get("items", []) or [])


def end_of(bridge: Recorder, run_id: str) -> dict[str, object]:
    ends = [o for o in bridge.run_outputs(run_id) if o["event"] == "end"]
    assert len(ends) == 1
    return ends[0]


async def test_a_job_exiting_non_zero_failed(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "exits.py", "import sys\nprint('leaving')\nsys.exit(3)\n")
    result = await command(client, protocol.RUN_FILE_AS_JOB, {"uri": uri})
    assert (field(result, "status"), field(result, "exitCode")) == ("failed", 3)
    assert end_of(bridge, field(result, "runId"))["status"] == "failed"
    assert bridge.text(field(result, "runId")) == "leaving\n"


async def test_a_file_named_like_an_option_runs_as_a_file(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(client, workspace / "-dash.py", "print('ran as a file')\n")
    result = await command(client, protocol.RUN_FILE_AS_JOB, {"uri": uri})
    assert (field(result, "status"), field(result, "exitCode")) == ("finished", 0)
    assert bridge.text(field(result, "runId")) == "ran as a file\n"


async def block_upload_of(client: LanguageClient, workspace: Path, name: str) -> None:
    """The session holds a folder where the file ``name`` goes, with a __main__.py that
    Python would run there: the file's upload fails."""
    make = f"import os\nos.makedirs({name!r}, exist_ok=True)\n"
    make += f"open({name!r} + '/__main__.py', 'w').write('print(\"stale copy ran\")')\n"
    setup = open_doc(client, workspace / ".probe" / f"block_{name}", make)
    where = {"start": {"line": 0, "character": 0}, "end": {"line": 2, "character": 0}}
    done = await command(client, protocol.RUN_SELECTION, {"uri": setup, "range": where})
    assert field(done, "status") == "finished"


def told(client: LanguageClient, text: str) -> list[str]:
    return [m.message for m in client.messages if text in m.message]


async def test_run_file_does_not_run_a_stale_copy_when_its_upload_failed(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    """A file too large to go with the run is run from the session's copy: when its upload
    fails, what Python would run there (the folder's __main__.py) must not run in its name."""
    await block_upload_of(client, workspace, "blocked.py")
    large = "print('fresh copy ran')\n" + "#" * (INLINE_LIMIT + 1) + "\n"
    uri = open_doc(client, workspace / "blocked.py", large)
    before = len(bridge.outputs)
    result = await command(client, protocol.RUN_FILE, {"uri": uri})
    assert result is None

    await bridge.wait_for("the reason", lambda: told(client, "blocked.py was not run"))
    assert "upload" in told(client, "blocked.py was not run")[-1]
    assert not printed(bridge, "stale copy ran")
    assert not printed(bridge, "fresh copy ran")
    assert not [o for o in bridge.outputs[before:] if o.get("label") == "blocked.py"]


async def test_a_file_sent_with_its_run_runs_and_says_its_upload_failed(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    """A small file's source goes with its run, beside its upload: the saved file runs,
    and the person is told that the session's copy was not updated."""
    await block_upload_of(client, workspace, "inline.py")
    uri = open_doc(client, workspace / "inline.py", "print('fresh copy ran')\n")
    result = await command(client, protocol.RUN_FILE, {"uri": uri})
    assert field(result, "status") == "finished"
    assert bridge.text(field(result, "runId")) == "fresh copy ran\n"
    assert not printed(bridge, "stale copy ran")

    news = "inline.py ran, but its copy in the session was not updated"
    await bridge.wait_for("the upload's failure", lambda: told(client, news))
    assert "upload" in told(client, news)[-1]


async def test_a_job_does_not_run_a_stale_copy_when_its_upload_failed(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    """A job runs the session's copy, so it waits for its upload, however small the file."""
    await block_upload_of(client, workspace, "job.py")
    uri = open_doc(client, workspace / "job.py", "print('fresh copy ran')\n")
    result = await command(client, protocol.RUN_FILE_AS_JOB, {"uri": uri})
    assert result is None
    await bridge.wait_for("the reason", lambda: told(client, "job.py was not run"))
    assert not printed(bridge, "stale copy ran")


@pytest.mark.parametrize("way", ["cell", "selection"])
async def test_a_run_whose_session_is_destroyed_failed(
    client: LanguageClient, bridge: Recorder, workspace: Path, way: str
) -> None:
    """A cell follows the run over the execute WebSocket (the server ends it with 130), a
    selection over HTTP (the next request finds no session)."""
    started = f"long {way} started"
    code = f"import time; print({started!r}, flush=True); time.sleep(60)\n"
    uri = open_doc(client, workspace / f"long_{way}.py", code)
    go = run_cell if way == "cell" else run_selection
    running = asyncio.create_task(go(client, uri, 0))
    await bridge.wait_for("the run", lambda: printed(bridge, started))
    await command(client, protocol.DESTROY)
    result = await asyncio.wait_for(running, WAIT)
    assert field(result, "status") == "failed"
    assert end_of(bridge, field(result, "runId"))["status"] == "failed"


async def test_a_run_whose_kernel_is_killed_failed(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n"
    uri = open_doc(client, workspace / "kill.py", code)
    result = await run_selection(client, uri, 0)
    assert field(result, "status") == "failed"
    assert field(result, "exitCode") == 137
    assert "died" in bridge.text(field(result, "runId"), "stderr")
    await command(client, protocol.RESTART)  # leaves the session usable
