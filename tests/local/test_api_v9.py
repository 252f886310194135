"""API v9 (26.x managers) on the embedded server, over real HTTP and WebSocket: the create
fields 26.x clients send, the completion answer, rename, and PTY output frames."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bai_bridge.local.mounts import vfolder_id
from serverkit import Reply, SignedClient, open_stream, read_events, text_of

V9 = "v9.20250722"


async def create_v9(client: SignedClient, name: str, **extra: Any) -> Reply:
    body = {"name": name, "image": "python:3.11-ubuntu20.04", **extra}
    return await client.request("POST", "/session", json_body=body, version=V9)


async def test_complete_answers_in_the_shape_of_the_version(client: SignedClient) -> None:
    assert (await create_v9(client, "cpl-sess")).status == 201
    await client.run("cpl-sess", "shape_marker_value = 1")
    body = {"code": "shape_marker_v", "options": {"row": 0, "col": 14, "line": "shape_marker_v"}}
    path = "/session/cpl-sess/complete"
    v9 = (await client.request("POST", path, json_body=body, version=V9)).json()
    assert v9 == {
        "result": {"status": "finished", "error": None, "suggestions": ["shape_marker_value"]}
    }
    v8 = (await client.request("POST", path, json_body=body, version="v8.20240915")).json()
    assert v8 == {"result": {"status": "finished", "completions": ["shape_marker_value"]}}


async def test_mounts_by_id_with_options_and_subpath(client: SignedClient, tmp_path: Path) -> None:
    vfolders = tmp_path / "data" / "vfolders"  # the data dir of the `client` fixture's server
    (vfolders / "shared" / "inner").mkdir(parents=True)
    (vfolders / "shared" / "inner" / "note.txt").write_text("from inner\n")
    (vfolders / "other").mkdir()
    (vfolders / "other" / "other.txt").write_text("from other\n")
    folder, other = str(vfolder_id("shared")), str(vfolder_id("other"))
    config = {
        "mount_ids": [folder],
        "mount_id_map": {folder: "/home/work/by-id"},
        # A key of mount_options is a mount request too (26.x), by id or by name.
        "mount_options": {folder: {"subpath": "inner"}, other: {"permission": "rw"}},
        "preopen_ports": [8080],
    }
    assert (await create_v9(client, "mnt-sess", config=config)).status == 201
    result = await client.run(
        "mnt-sess", "print(open('by-id/note.txt').read(), open('other/other.txt').read())"
    )
    assert text_of(result["console"]) == "from inner\n from other\n\n"


@pytest.mark.parametrize(
    ("config", "status", "slug", "title"),
    [
        (
            {"mount_ids": [str(vfolder_id("nowhere"))]},
            404,
            "object-not-found",
            "No such virtual folder.",
        ),
        ({"attach_network": str(vfolder_id("net"))}, 404, "object-not-found", "No such network."),
        ({"agentList": ["i-elsewhere"]}, 404, "object-not-found", "No such agent."),
        ({"mount_options": {"x1": {"type": "tmpfs"}}}, 400, "invalid-api-params", None),
        ({"mount_ids": ["nope"]}, 400, "invalid-api-params", None),
    ],
)
async def test_create_refusals_of_v9(
    client: SignedClient, config: dict[str, Any], status: int, slug: str, title: str | None
) -> None:
    reply = await create_v9(client, "refused", config=config)
    assert (reply.status, reply.problem_type) == (status, slug), reply.body
    if title is not None:
        assert reply.json()["title"] == title
    assert (await client.request("GET", "/session/refused", version=V9)).status == 404


async def test_a_bad_top_level_field_fails_the_request_model(client: SignedClient) -> None:
    reply = await create_v9(client, "bad-prio", priority=1000)
    assert (reply.status, reply.problem_type) == (400, "generic-bad-request")
    assert reply.json()["title"] == "Invalid or Missing API Parameters."
    older = await client.request(
        "POST",
        "/session",
        json_body={"name": "bad-prio", "image": "python", "priority": 1000},
        version="v8.20240915",
    )
    assert (older.status, older.problem_type) == (400, "invalid-api-params")


async def test_rename_by_body_or_query(client: SignedClient) -> None:
    for name in ("ren-one", "ren-two"):
        assert (await create_v9(client, name)).status == 201
    await client.run("ren-one", "pass")  # running (a create answers before its kernel is up)
    by_body = await client.request(
        "POST", "/session/ren-one/rename", json_body={"session_name": "ren-first"}, version=V9
    )
    assert by_body.status == 204, by_body.body
    # The official client sends the new name in the query (as 24.09 read it).
    by_query = await client.request("POST", "/session/ren-first/rename?name=ren-1st", version=V9)
    assert by_query.status == 204, by_query.body
    info = await client.request("GET", "/session/ren-1st", version=V9)
    assert info.status == 200
    assert (await client.request("GET", "/session/ren-one", version=V9)).status == 404
    taken = await client.request("POST", "/session/ren-1st/rename?name=ren-two", version=V9)
    assert (taken.status, taken.problem_type) == (400, "session-already-exists")
    bad = await client.request("POST", "/session/ren-1st/rename?name=a%20b", version=V9)
    assert (bad.status, bad.problem_type) == (400, "invalid-api-params")
    missing = await client.request("POST", "/session/ren-1st/rename", json_body={}, version=V9)
    assert (missing.status, missing.problem_type) == (400, "invalid-api-params")
    result = await client.run("ren-1st", "print('still here')")
    assert text_of(result["console"]) == "still here\n"


@pytest.mark.parametrize(
    ("version", "kind"), [(V9, aiohttp.WSMsgType.BINARY), ("v8.20240915", aiohttp.WSMsgType.TEXT)]
)
async def test_pty_output_frames_per_version(
    client: SignedClient, version: str, kind: aiohttp.WSMsgType
) -> None:
    assert (await create_v9(client, "pty-frames")).status == 201
    path = "/stream/session/pty-frames/pty"
    headers = client.ws_headers(path, version=version)
    async with client.session.ws_connect(client.endpoint + path, headers=headers) as ws:
        chars = base64.b64encode(b"echo frame-check\n").decode()
        await ws.send_str(json.dumps({"type": "stdin", "chars": chars}))
        message = await ws.receive(timeout=20)
    assert message.type == kind
    frame = json.loads(message.data)
    assert frame["type"] == "out"
    assert base64.b64decode(frame["data"])


async def test_stream_apps_and_status_history(client: SignedClient) -> None:
    assert (await create_v9(client, "app-sess")).status == 201
    reply = await client.request("GET", "/stream/session/app-sess/apps", version=V9)
    assert (reply.status, reply.json()) == (200, [])
    await client.request("PATCH", "/session/app-sess", version=V9)  # a restart
    history = (await client.request("GET", "/session/app-sess/status-history", version=V9)).json()
    order = ["PENDING", "SCHEDULED", "PREPARING", "RESTARTING", "RUNNING"]
    assert sorted(history, key=history.__getitem__) == order  # RUNNING: its latest entry
    assert all(datetime.fromisoformat(history[s]).tzinfo is not None for s in order)


async def test_batch_timeout_ends_a_batch_session(client: SignedClient) -> None:
    stream = await open_stream(client, "/events/session?sessionName=slow-batch", version=V9)
    try:
        begun = time.monotonic()
        reply = await create_v9(
            client,
            "slow-batch",
            type="batch",
            startupCommand="echo begun; sleep 60; echo never",
            batch_timeout="1s",
        )
        assert reply.status == 201, reply.body
        events = await asyncio.wait_for(read_events(stream, "session_terminated"), 30)
    finally:
        stream.close()
    assert time.monotonic() - begun < 30  # not the 60 s of the command
    failure = next(e for e in events if e["event"] == "session_failure")
    assert (failure["data"]["reason"], failure["data"]["exitCode"]) == ("task-timeout", -2)
    logs = await client.request("GET", "/session/slow-batch/logs", version=V9)
    assert "begun" in logs.json()["result"]["logs"]
    assert "never" not in logs.json()["result"]["logs"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("starts_at", "2030-01-01T00:00:00+00:00"),
        ("dependencies", ["0b6a9d5e-0c43-4d2a-9a39-1f2b3c4d5e6f"]),
        ("callback_url", "http://127.0.0.1:9/hook"),
    ],
)
async def test_what_needs_a_scheduler_is_refused(
    client: SignedClient, field: str, value: object
) -> None:
    reply = await create_v9(client, "sched-sess", **{field: value})
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params")
    assert reply.json()["data"] == {field: "not supported here"}
    assert (await client.request("GET", "/session/sched-sess", version=V9)).status == 404
