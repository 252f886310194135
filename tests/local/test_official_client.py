"""The official backend.ai-client 23.9.10, unchanged, drives every ComputeSession method
against the embedded server (tests/peer/compute_session.py prints what it saw)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bai_bridge.local.serve import RunningServer
from serverkit import run_peer, text_of

pytestmark = pytest.mark.peer


async def test_official_client_drives_every_method(local_server: RunningServer) -> None:
    server = local_server
    seen = await run_peer(
        "compute_session.py", server.endpoint, server.access_key, server.secret_key
    )
    check_session_methods(seen)
    check_files_pty_and_streams(seen)


def check_session_methods(seen: dict[str, Any]) -> None:
    assert seen["api_version"] == [7, "20230615"]  # min(server v8, client v7)
    assert seen["created"]["created"] is True
    assert seen["created"]["status"] == "RUNNING"
    assert seen["reused"] == {**seen["created"], "created": False}

    assert text_of(seen["hello"]["console"]) == "hello set\n"
    media = [item for item in seen["plot"]["console"] if item[0] == "media"]
    assert media[0][1][0] == "image/png"
    assert (
        base64.b64decode(media[0][1][1].removeprefix("data:image/png;base64,"))[:8]
        == b"\x89PNG\r\n\x1a\n"
    )
    assert "ZeroDivisionError" in text_of(seen["exception"]["console"], "stderr")
    assert seen["exception"]["exitCode"] == 0
    assert seen["input"]["statuses"] == ["waiting-input", "finished"]
    assert seen["input"]["options"][0] == {"is_password": False}
    assert text_of(seen["input"]["console"]) == "x? got 42\n"

    batch = seen["batch"]
    assert batch["statuses"] == ["clean-finished", "build-finished", "finished"]
    assert batch["exitCode"] == 4
    assert text_of(batch["console"]) == "clean\nbuild\nexec\n"

    assert seen["complete"]["result"]["status"] == "finished"
    assert "peer_defined_variable" in seen["complete"]["result"]["completions"]

    interrupt = seen["interrupt"]
    assert interrupt["first_status"] == "continued"
    assert "KeyboardInterrupt" in text_of(interrupt["console"], "stderr")
    assert text_of(seen["after_restart"]["console"]) == "kept False\n"

    info = seen["info"]
    assert info["status"] == "RUNNING"
    assert info["image"] == "python:3.11-ubuntu20.04"
    assert info["numQueriesExecuted"] >= 8
    assert "kernel python3 started" in seen["logs"]["result"]["logs"]


def check_files_pty_and_streams(seen: dict[str, Any]) -> None:
    files = seen["files"]
    names = {entry["filename"]: entry for entry in json.loads(files["listing"]["files"])}
    assert names["hello.txt"]["size"] == len("hello from the peer\n")
    assert names["sub"]["mode"].startswith("d")
    assert [e["filename"] for e in json.loads(files["sub_listing"]["files"])] == ["data.bin"]
    assert files["listing"]["abspath"] == "."
    assert files["hello"] == "hello from the peer\n"
    assert files["data_ok"] is True
    assert "hello.txt" in files["downloaded"]["file_names"]

    assert "hi" in seen["pty"]["output"]

    frames = seen["stream_execute"]["frames"]
    assert [f["status"] for f in frames][-1] == "finished"
    assert "waiting-input" in [f["status"] for f in frames]
    # The embedded profile names the run in each frame (a client whose socket drops continues
    # it by that id); the official client reads past the key.
    assert len({f["runId"] for f in frames}) == 1
    assert "ws peer" in "".join(text_of(f["console"]) for f in frames)

    destroy = seen["destroy"]
    assert destroy["destroy"]["stats"]["status"] == "terminated"
    events = destroy["events"]
    assert events[-1]["event"] == "session_terminated"
    assert events[-1]["data"]["sessionId"] == seen["created"]["id"]
    assert events[-1]["data"]["reason"] == "user-requested"
