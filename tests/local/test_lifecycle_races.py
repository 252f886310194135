"""Destroying a session while it is still queued or starting leaves no kernel behind."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from pathlib import Path

from serverkit import SignedClient

IMAGE = "python:3.11-ubuntu20.04"


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (kernels name their session dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (proc / "status").read_text()
        except OSError:
            continue
        if text in cmdline and "\nState:\tZ" not in state:
            found.append(int(proc.name))
    return found


def ready_pipe(directory: Path) -> Path:
    """A named pipe the command under test writes to once it runs (no polling needed)."""
    pipe = directory / "ready"
    os.mkfifo(pipe)
    return pipe


async def until_ready(pipe: Path, limit: float = 20.0) -> None:
    assert await asyncio.wait_for(asyncio.to_thread(pipe.read_text), limit) == "ready\n"


async def test_destroy_right_after_enqueue_cancels(client: SignedClient) -> None:
    reply = await client.request(
        "POST", "/session", json_body={"name": "race-queued", "image": IMAGE, "enqueueOnly": True}
    )
    session_id = reply.json()["sessionId"]
    destroyed = await client.request("DELETE", "/session/race-queued")
    assert destroyed.status == 200
    assert destroyed.json()["stats"]["status"] in ("cancelled", "terminated")
    assert (await client.request("GET", "/session/race-queued")).status == 404
    assert await asyncio.to_thread(processes_mentioning, session_id) == []


async def test_destroy_while_the_kernel_starts(client: SignedClient) -> None:
    reply = await client.request(
        "POST", "/session", json_body={"name": "race-start", "image": IMAGE, "enqueueOnly": True}
    )
    session_id = reply.json()["sessionId"]
    status = "PENDING"
    while status == "PENDING":  # until the server began starting its kernel
        status = (await client.request("GET", "/session/race-start")).json()["status"]
    destroyed = await client.request("DELETE", "/session/race-start")
    assert destroyed.json()["stats"]["status"] == "terminated"
    assert await asyncio.to_thread(processes_mentioning, session_id) == []
    # A new session of the same name starts cleanly afterwards.
    again = await client.create("race-start", IMAGE)
    assert again["status"] == "RUNNING"
    assert again["sessionId"] != session_id


async def test_destroy_during_a_long_bootstrap_stops_it(
    client: SignedClient, tmp_path: Path
) -> None:
    marker = "bootstrap-marker-" + uuid.uuid4().hex
    pipe = ready_pipe(tmp_path)
    script = base64.b64encode(f"echo ready > {pipe}; sleep 300; echo {marker}".encode()).decode()
    body = {"name": "race-boot", "image": IMAGE, "enqueueOnly": True, "bootstrap_script": script}
    await client.request("POST", "/session", json_body=body)
    await until_ready(pipe)  # the bootstrap script runs
    assert await asyncio.to_thread(processes_mentioning, marker) != []
    destroyed = await asyncio.wait_for(client.request("DELETE", "/session/race-boot"), 15)
    assert destroyed.status == 200
    assert await asyncio.to_thread(processes_mentioning, marker) == []


async def test_destroying_a_batch_session_stops_its_command(
    client: SignedClient, tmp_path: Path
) -> None:
    marker = "batch-marker-" + uuid.uuid4().hex
    pipe = ready_pipe(tmp_path)
    body = {
        "name": "race-batch",
        "image": IMAGE,
        "type": "batch",
        "startupCommand": f"echo ready > {pipe}; sleep 300; echo {marker}",
    }
    reply = await client.request("POST", "/session", json_body=body)
    assert reply.json()["status"] == "RUNNING"
    await until_ready(pipe)
    assert await asyncio.to_thread(processes_mentioning, marker) != []
    destroyed = await asyncio.wait_for(client.request("DELETE", "/session/race-batch"), 15)
    assert destroyed.status == 200
    assert await asyncio.to_thread(processes_mentioning, marker) == []
