"""Destroying a session while it is still queued or starting leaves no kernel behind."""

from __future__ import annotations

import asyncio
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
