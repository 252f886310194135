"""The official backend.ai-client 26.9.6 (API v9), unchanged, drives every ComputeSession
method against the embedded server (tests/peer26/compute_session.py prints what it saw).

The client needs Python 3.13: scripts/setup makes .venv-peer26 where python3.13 exists, and
these tests skip, saying so, where it does not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bai_bridge.local.mounts import vfolder_id
from bai_bridge.local.placement import agent_id
from bai_bridge.local.serve import RunningServer
from serverkit import PEER_26, run_peer, text_of

pytestmark = pytest.mark.peer


async def test_official_26_client_drives_every_method(
    local_server: RunningServer, tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "vfolders" / "peerdata"  # the data dir of `local_server`
    folder.mkdir(parents=True)
    (folder / "seed.txt").write_text("seeded\n")
    args = {"folder_id": str(vfolder_id("peerdata")), "agent": agent_id()}
    server = local_server
    seen = await run_peer(
        "compute_session.py",
        server.endpoint,
        server.access_key,
        server.secret_key,
        json.dumps(args),
        peer=PEER_26,
        limit=300,
    )
    check_negotiation_and_create(seen)
    check_refused_creates(seen["refused"])
    check_session_methods(seen)
    check_files_pty_and_streams(seen)
    check_single_machine_refusals(seen["single_machine"])
    check_destroy(seen)


def check_negotiation_and_create(seen: dict[str, Any]) -> None:
    assert seen["api_version"] == [9, "20250722"]
    assert seen["server"] == {"version": "v9.20250722", "manager": "26.8.1"}
    assert seen["created"]["created"] is True
    assert seen["created"]["status"] == "RUNNING"
    assert seen["reused"] == {**seen["created"], "created": False}


def _error(outcome: dict[str, Any]) -> dict[str, Any]:
    assert "error" in outcome, outcome
    error: dict[str, Any] = outcome["error"]
    error["type"] = str(error["type"]).rsplit("/", 1)[-1]
    return error


def check_refused_creates(refused: dict[str, Any]) -> None:
    network = _error(refused["attach_network"])
    assert (network["status"], network["type"], network["title"]) == (
        404,
        "object-not-found",
        "No such network.",
    )
    folder = _error(refused["unknown_folder"])
    assert (folder["status"], folder["title"]) == (404, "No such virtual folder.")
    assert folder["msg"].startswith("VFolder(s) not found or accessible: ")
    agent = _error(refused["other_agent"])
    assert (agent["status"], agent["title"]) == (404, "No such agent.")
    assert "i-elsewhere" in agent["msg"]
    port = _error(refused["reserved_port"])
    assert (port["status"], port["type"]) == (400, "invalid-api-params")
    assert "reserved ports" in port["msg"]
    # A top-level field out of range fails the 26.x request model: generic-bad-request.
    priority = _error(refused["priority"])
    assert (priority["status"], priority["type"], priority["title"]) == (
        400,
        "generic-bad-request",
        "Invalid or Missing API Parameters.",
    )
    read_only = _error(refused["read_only"])
    assert (read_only["status"], read_only["type"]) == (400, "invalid-api-params")
    assert "read-only" in read_only["msg"]
    arch = _error(refused["architecture"])
    assert (arch["status"], arch["title"]) == (404, "No such environment image.")


def check_session_methods(seen: dict[str, Any]) -> None:
    # Environment, bootstrap script (ran before the kernel), a folder by id, one by name.
    assert text_of(seen["hello"]["console"]) == "hello set bootstrapped seeded True\n"
    assert "ZeroDivisionError" in text_of(seen["exception"]["console"], "stderr")
    assert seen["input"]["statuses"] == ["waiting-input", "finished"]
    assert text_of(seen["input"]["console"]) == "x? got 42\n"
    batch = seen["batch"]
    assert batch["statuses"] == ["clean-finished", "build-finished", "finished"]
    assert (batch["exitCode"], text_of(batch["console"])) == (4, "clean\nbuild\nexec\n")

    complete = seen["complete"]
    assert set(complete) == {"result"}
    assert set(complete["result"]) == {"status", "error", "suggestions"}
    assert complete["result"]["status"] == "finished"
    assert complete["result"]["error"] is None
    assert "peer_defined_variable" in complete["result"]["suggestions"]
    execute_complete = _error(seen["execute_complete"])
    assert (execute_complete["status"], execute_complete["type"]) == (400, "invalid-api-params")

    interrupt = seen["interrupt"]
    assert interrupt["first_status"] == "continued"
    assert "KeyboardInterrupt" in text_of(interrupt["console"], "stderr")
    assert text_of(seen["after_restart"]["console"]) == "kept False\n"

    info = seen["info"]
    assert (info["status"], info["image"], info["tag"]) == ("RUNNING", seen_image(), "peer26")
    assert "kernel python3 started" in seen["logs"]["result"]["logs"]
    assert seen["apps"] == []
    assert list(seen["status_history"]) == [
        "PENDING",
        "SCHEDULED",
        "PREPARING",
        "RUNNING",
        "RESTARTING",
    ]
    assert seen["rename"] == {"result": None}
    assert seen["info_after_rename"]["status"] == "RUNNING"


def seen_image() -> str:
    return "python:3.11-ubuntu20.04"


def check_files_pty_and_streams(seen: dict[str, Any]) -> None:
    files = seen["files"]
    assert files["upload_status"] == 204
    names = {entry["filename"]: entry for entry in json.loads(files["listing"]["files"])}
    assert names["hello.txt"]["size"] == len("hello from the 26.x peer\n")
    assert names["sub"]["mode"].startswith("d")
    assert [e["filename"] for e in json.loads(files["sub_listing"]["files"])] == ["data.bin"]
    assert files["hello"] == "hello from the 26.x peer\n"
    assert files["data_ok"] is True
    assert "hello.txt" in files["downloaded"]["file_names"]

    assert "hi" in seen["pty"]["output"]
    assert seen["pty"]["frame_kinds"] == ["BINARY"]  # as a 26.x manager sends them
    assert seen["pty"]["broken_in_client"] == ["StreamPty.resize", "StreamPty.restart"]

    frames = seen["stream_execute"]["frames"]
    assert [f["status"] for f in frames][-1] == "finished"
    assert "waiting-input" in [f["status"] for f in frames]
    assert "ws peer" in "".join(text_of(f["console"]) for f in frames)
    batch_frames = seen["stream_batch"]["frames"]
    assert "streamed-batch" in "".join(text_of(f["console"]) for f in batch_frames)


def check_single_machine_refusals(refusals: dict[str, Any]) -> None:
    """What needs a cluster's services is refused with a 404: session templates, task logs
    and image commits live in a manager's database, storage and registries; start_service
    needs an app proxy; dependency graphs (sessions waiting on other sessions) and abuse
    reports come from a manager's scheduler and agents' watchers. Of the GraphQL (/admin/gql)
    this server answers only the session list (paginated_list, tested with the picker's
    peers): detail's and update's fields are GraphQL errors, as a manager's unknown ones are."""
    assert set(refusals) == {
        "create_from_template",
        "get_task_logs",
        "commit",
        "export_to_image",
        "start_service",
        "get_dependency_graph",
        "get_abusing_report",
        "detail",
        "update",
    }
    for method, outcome in refusals.items():
        error = _error(outcome)
        # GET /session/_/logs (task logs) reads as the logs of a session named "_".
        if method in ("detail", "update"):
            assert (error["status"], error["type"]) == (400, "graphql-error"), (method, error)
            continue
        expected = "object-not-found" if method == "get_task_logs" else "url-not-found"
        assert (error["status"], error["type"]) == (404, expected), (method, error)


def check_destroy(seen: dict[str, Any]) -> None:
    destroy = seen["destroy"]
    assert destroy["destroy"]["stats"]["status"] == "terminated"
    events = destroy["events"]
    assert events[-1]["event"] == "session_terminated"
    assert events[-1]["data"]["sessionId"] == seen["created"]["id"]
    assert events[-1]["data"]["reason"] == "force-terminated"
