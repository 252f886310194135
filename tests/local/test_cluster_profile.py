"""The cluster profile: the embedded server behaves as a Backend.AI 26.x cluster where the two
are known to differ (protocol doc §12). complete() answers nothing and at once (the Python
kernel runner's is a TODO); the kernel has no subshell, so a query waits behind a running
cell; PTY output comes in BINARY frames, which the client reads as it reads TEXT ones."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler

from bai_bridge.api import APIConfig, APISession
from bai_bridge.local.config import ServerProfile, parse_profile, profile_from_env
from bai_bridge.local.context import CONTEXT
from bai_bridge.local.render import completion_body
from bai_bridge.local.serve import RunningServer, start_server
from bai_bridge.local.versioning import ApiVersion
from serverkit import SignedClient, random_config, text_of

IMAGE = "python:3.11-ubuntu20.04"
# A run that waits, without a timer, until the test creates the gate file in the work dir.
GATED = (
    "import os, time\n"
    "print('waiting for the gate', flush=True)\n"
    "while not os.path.exists('gate'): time.sleep(0.01)\n"
    "late_name = 1\n"
)


class Arrivals:
    """A middleware that says when the server has received a request for a given run id
    (before any handler ran): the test knows the query reached the server, not just left."""

    def __init__(self) -> None:
        self.run_ids: set[str] = set()
        self.changed = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.can_read_body:
            body = await request.read()  # kept by aiohttp for the handler
            try:
                run_id = json.loads(body).get("runId")
            except (ValueError, AttributeError):
                run_id = None
            if run_id:
                self.run_ids.add(run_id)
                self.changed.set()
        return await handler(request)

    async def wait_for(self, run_id: str) -> None:
        async with asyncio.timeout(30):
            while run_id not in self.run_ids:
                self.changed.clear()
                await self.changed.wait()


@pytest.fixture
def arrivals() -> Arrivals:
    return Arrivals()


@pytest.fixture
async def cluster(tmp_path: Path, arrivals: Arrivals) -> AsyncIterator[RunningServer]:
    config = random_config(tmp_path / "data", profile=ServerProfile.CLUSTER)
    server = await start_server(config, extra_middlewares=[arrivals.middleware])
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def client(cluster: RunningServer) -> AsyncIterator[SignedClient]:
    async with aiohttp.ClientSession() as session:
        yield SignedClient(cluster.endpoint, cluster.access_key, cluster.secret_key, session)


async def post(client: SignedClient, sid: str, body: dict[str, object]) -> dict[str, object]:
    reply = await client.request("POST", f"/session/{sid}", json_body=body)
    assert reply.status == 200, reply.body
    result = reply.json()["result"]
    assert isinstance(result, dict)
    return result


async def finish(client: SignedClient, sid: str, result: dict[str, object]) -> str:
    """Follow a run to its end; all its stdout."""
    console = list(result["console"])  # type: ignore[call-overload]
    while result["status"] != "finished":
        result = await post(client, sid, {"mode": "continue", "code": "", "runId": result["runId"]})
        console += result["console"]  # type: ignore[operator]
    return text_of(console)


async def test_complete_answers_nothing_at_once_even_during_a_run(
    client: SignedClient, cluster: RunningServer
) -> None:
    await client.create("cl-complete", IMAGE)
    await client.run("cl-complete", "rocket_launch_count = 3")
    body = {"code": "rocket_la", "options": {"row": 0, "col": 9, "line": "rocket_la", "post": ""}}
    reply = await client.request("POST", "/session/cl-complete/complete", json_body=body)
    assert (reply.status, reply.json()) == (200, {"result": None})  # as manager 24.09 answers
    legacy = await client.request(
        "POST", "/session/cl-complete", json_body={"mode": "complete", **body}
    )
    assert legacy.json() == {"result": None}

    running = await post(client, "cl-complete", {"mode": "query", "code": GATED, "runId": "a"})
    assert running["status"] == "continued"  # the gated run is in the kernel now
    during = await client.request("POST", "/session/cl-complete/complete", json_body=body)
    assert during.json() == {"result": None}  # answered while the run still waits
    session = cluster.app[CONTEXT].registry.by_name(client.access_key, "cl-complete")
    assert session is not None
    assert session.kernel is not None
    assert session.kernel._subshell_id is None  # no subshell was ever created
    (session.work_dir / "gate").touch()
    await finish(client, "cl-complete", running)


def test_the_reply_for_nothing_follows_the_api_version() -> None:
    assert completion_body(ApiVersion(8, "20240915"), None) == {"result": None}
    v9 = completion_body(ApiVersion(9, "20250722"), None)
    assert v9 == {"result": {"status": "finished", "error": None, "suggestions": None}}


async def test_a_query_waits_behind_a_running_cell(
    client: SignedClient, cluster: RunningServer, arrivals: Arrivals
) -> None:
    """The query (what the language server sends to list names) reaches the server while
    the cell waits for its gate; it runs only after the cell ended, so it sees the name the
    cell defined after the gate."""
    await client.create("cl-queue", IMAGE)
    running = await post(client, "cl-queue", {"mode": "query", "code": GATED, "runId": "a"})
    assert running["status"] == "continued"
    names = "print(sorted(n for n in globals() if n.endswith('_name')))"
    query = asyncio.create_task(
        post(client, "cl-queue", {"mode": "query", "code": names, "runId": "b"})
    )
    await arrivals.wait_for("b")
    assert not query.done()
    session = cluster.app[CONTEXT].registry.by_name(client.access_key, "cl-queue")
    assert session is not None
    (session.work_dir / "gate").touch()
    assert "waiting for the gate" in await finish(client, "cl-queue", running)
    assert await finish(client, "cl-queue", await query) == "['late_name']\n"


async def test_execute_frames_carry_no_run_id(client: SignedClient) -> None:
    """As a manager's: a client that loses the socket cannot continue the run (it is
    interrupted), where the embedded profile's frames name it."""
    await client.create("cl-exec", IMAGE)
    path = "/stream/session/cl-exec/execute"
    headers = client.ws_headers(path)
    async with client.session.ws_connect(client.endpoint + path, headers=headers) as ws:
        await ws.send_json({"code": "print(42)", "mode": "query", "options": {}})
        async with asyncio.timeout(20):
            while (frame := json.loads((await ws.receive()).data))["status"] != "finished":
                assert "runId" not in frame
    assert "runId" not in frame


async def test_pty_output_comes_in_binary_frames(client: SignedClient) -> None:
    await client.create("cl-pty", IMAGE)
    path = "/stream/session/cl-pty/pty"
    headers = client.ws_headers(path)
    async with client.session.ws_connect(client.endpoint + path, headers=headers) as ws:
        chars = base64.b64encode(b"echo pty-$((40+2))\n").decode()
        await ws.send_str(json.dumps({"type": "stdin", "chars": chars}))  # input stays TEXT
        seen, kinds = b"", set()
        async with asyncio.timeout(20):
            while b"pty-42" not in seen:
                message = await ws.receive()
                kinds.add(message.type)
                frame = json.loads(message.data)
                assert frame["type"] == "out"
                seen += base64.b64decode(frame["data"])
    assert kinds == {aiohttp.WSMsgType.BINARY}


async def test_the_client_reads_binary_terminal_output(cluster: RunningServer) -> None:
    config = APIConfig(
        endpoint=cluster.endpoint, access_key=cluster.access_key, secret_key=cluster.secret_key
    )
    async with APISession(config) as api:
        kernel = await api.Kernel.get_or_create("python", client_token="cl-client-pty")
        try:
            async with await kernel.stream_pty() as pty:
                await pty.send("echo client-$((6*7))\n")
                seen = b""
                async with asyncio.timeout(20):
                    while b"client-42" not in seen:
                        chunk = await pty.receive()
                        assert chunk is not None, seen
                        seen += chunk
        finally:
            await kernel.destroy()


def test_profile_names_and_the_environment() -> None:
    assert profile_from_env({}) is ServerProfile.EMBEDDED
    assert profile_from_env({"BAI_BRIDGE_PROFILE": " Cluster "}) is ServerProfile.CLUSTER
    with pytest.raises(ValueError, match=r"BAI_BRIDGE_PROFILE: unknown server profile 'cloud'"):
        profile_from_env({"BAI_BRIDGE_PROFILE": "cloud"})
    assert parse_profile("embedded", "--profile") is ServerProfile.EMBEDDED


def test_local_server_refuses_an_unknown_profile_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "BAI_BRIDGE_PROFILE": "cloud"}
    done = subprocess.run(
        [sys.executable, "-m", "bai_bridge", "local-server", "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "unknown server profile 'cloud' (one of embedded, cluster)" in done.stderr
    assert not (tmp_path / "data").exists()
