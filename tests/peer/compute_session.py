"""Drive every method of the official client's ComputeSession against a server.

Run with .venv-peer/bin/python (backend.ai-client 23.9.10, unchanged); the endpoint and
keys come from BACKEND_ENDPOINT / BACKEND_ACCESS_KEY / BACKEND_SECRET_KEY. Prints one JSON
object describing what the client saw; the pytest side asserts on it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ai.backend.client.session import AsyncSession

IMAGE = "python:3.11-ubuntu20.04"
NAME = "peer-main"

PLOT = """
import matplotlib
import matplotlib.pyplot as plt
plt.plot([1, 2, 3], [3, 1, 2])
plt.show()
"""


async def run_loop(
    session: Any,
    code: str,
    inputs: list[str] | None = None,
    mode: str = "query",
    opts: dict | None = None,
) -> dict[str, Any]:
    """The official run loop (protocol doc §4.7) on top of ComputeSession.execute."""
    inputs = list(inputs or [])
    console: list[Any] = []
    statuses: list[str] = []
    options: list[Any] = []
    run_id = None
    result = await session.execute(run_id, code, mode=mode, opts=opts)
    while True:
        run_id = result["runId"]
        console.extend(result["console"])
        statuses.append(result["status"])
        options.append(result["options"])
        if result["status"] == "finished":
            return {
                "console": console,
                "statuses": statuses,
                "exitCode": result["exitCode"],
                "options": options,
                "runId": run_id,
            }
        if result["status"] == "waiting-input":
            result = await session.execute(run_id, inputs.pop(0), mode="input")
        else:
            result = await session.execute(run_id, "", mode="continue")


async def interrupt_busy_loop(session: Any) -> dict[str, Any]:
    first = await session.execute(None, "while True: pass", mode="query")
    await session.interrupt()
    result = first
    console = list(first["console"])
    while result["status"] != "finished":
        result = await session.execute(first["runId"], "", mode="continue")
        console.extend(result["console"])
    return {"first_status": first["status"], "console": console, "exitCode": result["exitCode"]}


async def files_round_trip(session: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as base_dir, tempfile.TemporaryDirectory() as dest:
        base = Path(base_dir)
        (base / "sub").mkdir()
        (base / "hello.txt").write_text("hello from the peer\n")
        (base / "sub" / "data.bin").write_bytes(bytes(range(256)) * 16)
        await session.upload([base / "hello.txt", base / "sub" / "data.bin"], basedir=base)
        listing = await session.list_files(".")
        sub_listing = await session.list_files("sub")
        downloaded = await session.download(["hello.txt", "sub"], dest=dest)
        return {
            "listing": listing,
            "sub_listing": sub_listing,
            "downloaded": downloaded,
            "hello": (Path(dest) / "hello.txt").read_text(),
            "data_ok": (Path(dest) / "sub" / "data.bin").read_bytes() == bytes(range(256)) * 16,
        }


async def pty_echo(session: Any) -> dict[str, Any]:
    text = ""
    async with session.stream_pty() as pty:
        await pty.send_str(
            json.dumps({"type": "stdin", "chars": base64.b64encode(b"echo hi\n").decode()})
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            msg = await asyncio.wait_for(pty.receive_json(), deadline - time.monotonic())
            if msg.get("type") == "out":
                text += base64.b64decode(msg["data"]).decode(errors="replace")
            plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")
            if re.search(r"^hi$", plain, re.MULTILINE):
                break
    return {"output": text}


async def stream_execute(session: Any) -> dict[str, Any]:
    frames = []
    async with session.stream_execute(
        "name = input('name? ')\nprint('ws', name)", mode="query"
    ) as ws:
        async for msg in ws:
            frame = json.loads(msg.data)
            frames.append(frame)
            if frame["status"] == "waiting-input":
                await ws.send_str("peer")
            if frame["status"] == "finished":
                break
    return {"frames": frames}


async def destroy_with_events(session: Any) -> dict[str, Any]:
    events = []
    async with session.listen_events() as stream:
        destroyed = asyncio.ensure_future(session.destroy())
        async for event in stream:
            events.append({"event": event.event, "data": json.loads(event.data), "id": event.id})
            if event.event == "session_terminated":
                break
    return {"events": events, "destroy": await destroyed}


async def main() -> None:
    out: dict[str, Any] = {}
    async with AsyncSession() as api:
        out["api_version"] = list(api.api_version)
        session = await api.ComputeSession.get_or_create(IMAGE, name=NAME, envs={"PEER_ENV": "set"})
        out["created"] = {
            "created": session.created,
            "status": session.status,
            "id": str(session.id),
        }
        reused = await api.ComputeSession.get_or_create(IMAGE, name=NAME)
        out["reused"] = {"created": reused.created, "status": reused.status, "id": str(reused.id)}
        out["hello"] = await run_loop(session, "import os\nprint('hello', os.environ['PEER_ENV'])")
        out["plot"] = await run_loop(session, PLOT)
        out["exception"] = await run_loop(session, "1/0")
        out["input"] = await run_loop(session, "x = input('x? ')\nprint('got', x)", inputs=["42"])
        out["batch"] = await run_loop(
            session,
            "",
            mode="batch",
            opts={"clean": "echo clean", "build": "echo build", "exec": "echo exec; exit 4"},
        )
        await run_loop(session, "peer_defined_variable = 1")
        out["complete"] = await session.complete(
            "peer_defined_v", {"row": 0, "col": 14, "line": "peer_defined_v"}
        )
        out["interrupt"] = await interrupt_busy_loop(session)
        await run_loop(session, "open('restart-marker.txt', 'w').write('kept')")
        await session.restart()
        out["after_restart"] = await run_loop(
            session,
            "print(open('restart-marker.txt').read(), 'peer_defined_variable' in globals())",
        )
        out["info"] = await session.get_info()
        out["logs"] = await session.get_logs()
        out["files"] = await files_round_trip(session)
        out["pty"] = await pty_echo(session)
        out["stream_execute"] = await stream_execute(session)
        if "--no-events" in sys.argv:
            out["destroy"] = {"events": [], "destroy": await session.destroy()}
        else:
            out["destroy"] = await destroy_with_events(session)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    asyncio.run(main())
