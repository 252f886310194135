"""Completion through a kernel subshell (idle and during a run), and the execute
WebSocket (§5.3): input, batch, error frames, disconnect interrupts the run."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from typing import Any

import aiohttp

from serverkit import SignedClient, text_of

IMAGE = "python:3.11-ubuntu20.04"


async def complete(client: SignedClient, sid: str, code: str) -> tuple[list[str], float]:
    started = time.perf_counter()
    reply = await client.request(
        "POST",
        f"/session/{sid}/complete",
        json_body={"code": code, "options": {"row": 0, "col": len(code), "line": code, "post": ""}},
    )
    elapsed = time.perf_counter() - started
    assert reply.status == 200, reply.body
    body = reply.json()
    assert body["result"]["status"] == "finished"
    return body["result"]["completions"], elapsed


def summary(seconds: list[float]) -> str:
    return f"median {statistics.median(seconds) * 1000:.1f} ms, max {max(seconds) * 1000:.1f} ms"


async def test_completion_is_fast_idle_and_during_a_run(client: SignedClient) -> None:
    await client.create("compl-sess", IMAGE)
    await client.run("compl-sess", "import time\nrocket_launch_count = 3")
    idle = []
    for _ in range(10):
        names, elapsed = await complete(client, "compl-sess", "rocket_la")
        assert names == ["rocket_launch_count"]
        idle.append(elapsed)
    # A run that defines a name and then sleeps 4 s: completion must not wait behind it.
    reply = await client.request(
        "POST",
        "/session/compl-sess",
        json_body={
            "mode": "query",
            "code": "rocket_second = 1\nprint('sleeping', flush=True)\ntime.sleep(4)",
            "runId": None,
        },
    )
    result = reply.json()["result"]
    assert result["status"] == "continued"
    busy = []
    for _ in range(10):
        names, elapsed = await complete(client, "compl-sess", "rocket_")
        assert names == ["rocket_launch_count", "rocket_second"]
        busy.append(elapsed)
    print(f"\ncompletion over HTTP, idle: {summary(idle)}")
    print(f"completion over HTTP, during time.sleep(4): {summary(busy)}")
    assert statistics.median(busy) < 0.5
    while result["status"] != "finished":
        reply = await client.request(
            "POST",
            "/session/compl-sess",
            json_body={"mode": "continue", "code": "", "runId": result["runId"]},
        )
        result = reply.json()["result"]
    # The legacy spelling: execute with mode "complete" (C19 style) answers the same shape.
    reply = await client.request(
        "POST",
        "/session/compl-sess",
        json_body={"mode": "complete", "code": "rocket_l", "options": {}},
    )
    assert reply.json()["result"]["completions"] == ["rocket_launch_count"]


async def test_dotted_completion_answers_whole_tokens(client: SignedClient) -> None:
    await client.create("compl-dots", IMAGE)
    await client.run(
        "compl-dots",
        "import pandas as pd\nclass Probe:\n    attr = 1\n"
        "obj = Probe()\ndf = pd.DataFrame({'a': [1]})",
    )
    names, _ = await complete(client, "compl-dots", "df.ke")
    assert names == ["df.keys"]
    names, _ = await complete(client, "compl-dots", "x = obj.at")
    assert names == ["obj.attr"]
    names, _ = await complete(client, "compl-dots", "(obj).at")  # nothing dotted to put back
    assert names == ["attr"]


async def ws_connect(client: SignedClient, sid: str) -> aiohttp.ClientWebSocketResponse:
    path = f"/stream/session/{sid}/execute"
    return await client.session.ws_connect(client.endpoint + path, headers=client.ws_headers(path))


async def frames_until_finished(
    ws: aiohttp.ClientWebSocketResponse, inputs: list[str] | None = None
) -> list[dict[str, Any]]:
    inputs = list(inputs or [])
    frames = []
    async for msg in ws:
        frame = json.loads(msg.data)
        frames.append(frame)
        if frame["status"] == "waiting-input":
            await ws.send_str(inputs.pop(0))
        if frame["status"] in ("finished", "error"):
            break
    return frames


async def test_execute_websocket(client: SignedClient) -> None:
    await client.create("ws-sess", IMAGE)
    ws = await ws_connect(client, "ws-sess")
    await ws.send_json(
        {
            "code": "import getpass\nprint('pw ok', len(getpass.getpass()))",
            "mode": "query",
            "options": {},
        }
    )
    frames = await frames_until_finished(ws, ["hunter2"])
    await ws.close()
    waiting = [f for f in frames if f["status"] == "waiting-input"]
    assert waiting[0]["options"] == {"is_password": True}
    assert frames[-1]["exitCode"] == 0
    assert "pw ok 7" in "".join(text_of(f["console"]) for f in frames)
    # A manager's frames, plus the run's id: a client whose connection drops continues the
    # run by it (the cluster profile leaves it out, as a manager does).
    assert set(frames[-1]) == {"status", "console", "exitCode", "options", "files", "runId"}

    ws = await ws_connect(client, "ws-sess")
    await ws.send_json(
        {
            "code": "",
            "mode": "batch",
            "options": {
                "clean": None,
                "build": "true",
                "exec": "echo batch-ws; exit 5",
                "buildLog": False,
            },
        }
    )
    frames = await frames_until_finished(ws)
    await ws.close()
    assert [f["status"] for f in frames][-3:] == ["clean-finished", "build-finished", "finished"]
    assert frames[-1]["exitCode"] == 5

    ws = await ws_connect(client, "ws-sess")
    await ws.send_json({"code": "1", "mode": "continue"})
    frames = await frames_until_finished(ws)
    assert frames[0]["status"] == "error"
    assert frames[0]["msg"].startswith("Invalid API parameters")
    await ws.close()


async def test_execute_websocket_disconnect_interrupts_the_run(client: SignedClient) -> None:
    await client.create("ws-drop", IMAGE)
    ws = await ws_connect(client, "ws-drop")
    await ws.send_json(
        {
            "code": "import time\nprint('busy', flush=True)\ntime.sleep(120)",
            "mode": "query",
            "options": {},
        }
    )
    async for msg in ws:
        if "busy" in msg.data:
            break
    await ws.close()
    # The sleep was interrupted: the next run starts at once instead of waiting 120 s.
    run = await asyncio.wait_for(client.run("ws-drop", "print('free')"), 30)
    assert text_of(run["console"]) == "free\n"
