"""Parity with the official client: for every Kernel method, the request this client sends
(method, path, query keys, JSON body keys, signed headers) equals what backend.ai-client
23.9.10 sends for the same call to the same server, as recorded server-side.

The official client negotiates v7.20230615 with the embedded server, so this client is
pinned to the same version. One difference is deliberate: against a 24.09 manager download
is a POST (protocol doc §3.10); 23.9.10 always sends GET.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path

import attrs
import pytest
from api_support import Embedded, Recorded

from bai_bridge.api import APISession, BackendError, BatchOptions, Kernel
from bai_bridge.api.events import _events_request

ROOT = Path(__file__).resolve().parents[2]
PEER_PYTHON = ROOT / ".venv-peer" / "bin" / "python"
PEER_SCRIPT = Path(__file__).parent / "peer" / "official_calls.py"
PEER_VERSION = "v7.20230615"

pytestmark = pytest.mark.peer


async def run_peer(embedded: Embedded, name: str, workdir: Path) -> list[dict[str, object]]:
    if not PEER_PYTHON.exists():
        pytest.fail(
            f"the official client's environment is missing: run scripts/setup ({PEER_PYTHON})"
        )
    args = {
        "endpoint": str(embedded.config.endpoint),
        "access_key": embedded.config.access_key,
        "secret_key": embedded.config.secret_key,
        "image": "python",
        "name": name,
        "workdir": str(workdir),
    }
    proc = await asyncio.create_subprocess_exec(
        str(PEER_PYTHON),
        str(PEER_SCRIPT),
        json.dumps(args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(180):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()[-3000:]
    return [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]


async def run_ours(embedded: Embedded, name: str, workdir: Path) -> dict[str, bool]:
    """The peer script's calls, in its order; returns which of them succeeded."""
    config = attrs.evolve(embedded.config, api_version=PEER_VERSION)
    outcomes: dict[str, bool] = {}

    async def call(op: str, coro: Awaitable[object]) -> None:
        try:
            await coro
            outcomes[op] = True
        except BackendError:
            outcomes[op] = False

    async with APISession(config) as api:
        kernel = await api.Kernel.get_or_create("python", client_token=name)
        outcomes["get_or_create"] = True
        batch = BatchOptions(exec="true", build="", clean="")
        await call("get_info", kernel.get_info())
        await call("get_logs", kernel.get_logs())
        await call("execute_query", kernel.execute(None, "1+1", mode="query"))
        await call("execute_batch", kernel.execute(None, "", mode="batch", opts=batch))
        await call("complete", kernel.complete("pri", {"row": 0, "col": 3, "line": "pri"}))
        await call("interrupt", kernel.interrupt())
        await call("upload", kernel.upload([workdir / "up.txt"], basedir=workdir))
        await call("list_files", kernel.list_files("."))
        await call("download", kernel.download(["up.txt"], workdir / "down"))
        await call("stream_pty", open_pty(kernel))
        await call("stream_execute", stream_run(kernel))
        await call("stream_events", open_events(kernel))
        await call("restart", kernel.restart())
        await call("destroy", kernel.destroy())
    return outcomes


async def open_pty(kernel: Kernel) -> None:
    pty = await kernel.stream_pty()
    await pty.close()


async def stream_run(kernel: Kernel) -> None:
    stream = await kernel.stream_execute("1+1")
    async with stream:
        _ = [r async for r in stream]


async def open_events(kernel: Kernel) -> None:
    """Open the event stream as `Kernel.stream_events` does, up to the response headers
    (an event may never come, so iterating would not return)."""
    path, query = _events_request(kernel, "*")
    resp = await kernel.session.sse_connect(path, query)
    resp.release()


def normalise(requests: list[Recorded], ids: tuple[str, ...]) -> list[Recorded]:
    def path(p: str) -> str:
        for sid in ids:
            p = p.replace(sid, "{sid}")
        return p

    return [attrs.evolve(r, path=path(r.path)) for r in requests]


async def test_requests_match_the_official_client(embedded: Embedded, tmp_path: Path) -> None:
    for side in ("peer", "ours"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "up.txt").write_text("parity upload\n")

    outcomes = await run_peer(embedded, "parity-peer", tmp_path / "peer")
    theirs = list(embedded.recorder.requests)
    embedded.recorder.requests.clear()
    our_outcomes = await run_ours(embedded, "parity-ours", tmp_path / "ours")
    ours = list(embedded.recorder.requests)
    # The same calls succeed or fail on both sides.
    assert our_outcomes == {str(o["op"]): o["ok"] for o in outcomes}

    peer_ids = ("parity-peer", *(sid_from(theirs)))
    our_ids = ("parity-ours", *(sid_from(ours)))
    theirs_n, ours_n = normalise(theirs, peer_ids), normalise(ours, our_ids)
    assert len(ours_n) == len(theirs_n), (ours_n, theirs_n)
    for mine, official in zip(ours_n, theirs_n, strict=True):
        if official.path.endswith("/download"):
            assert (official.method, mine.method) == ("GET", "POST")
            mine = attrs.evolve(mine, method="GET")
        assert mine == official


def sid_from(requests: list[Recorded]) -> tuple[str, ...]:
    """Session UUIDs appearing in stream paths (the WebSocket paths use them from v5)."""
    ids = set()
    for r in requests:
        parts = r.path.split("/")
        if len(parts) > 3 and parts[1] == "stream" and len(parts[3]) == 36:
            ids.add(parts[3])
    return tuple(ids)
