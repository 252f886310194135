"""Drive every method of the official client's ComputeSession (26.9.6) against a server.

Run with .venv-peer26/bin/python (backend.ai-client 26.9.6, unchanged; Python 3.13); the
endpoint and keys come from BACKEND_ENDPOINT / BACKEND_ACCESS_KEY / BACKEND_SECRET_KEY;
argv[1] is a JSON object: ``folder_id`` (an existing vfolder's id), ``agent`` (the server's
agent id). Prints one JSON object describing what the client saw; pytest asserts on it.

A method that fails is recorded as ``{"error": {"status", "type", "title", "msg"}}`` rather
than stopping the script, so the test can check which refusal each one got.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from ai.backend.client.exceptions import BackendAPIError
from ai.backend.client.session import AsyncSession
from ai.backend.common.dto.manager.session.types import MountOption

IMAGE = "python:3.11-ubuntu20.04"
NAME = "peer26-main"
BOOTSTRAP = "echo bootstrapped > bootstrap-ran.txt\n"


async def outcome(call: Awaitable[Any]) -> Any:
    """The call's result, or the server's refusal as data."""
    try:
        return {"result": await call}
    except BackendAPIError as e:
        data = e.data if isinstance(e.data, dict) else {}
        return {
            "error": {
                "status": e.status,
                "type": data.get("type"),
                "title": data.get("title"),
                "msg": data.get("msg"),
                "data": data.get("data"),
            }
        }


async def run_loop(
    session: Any, code: str, inputs: list[str] | None = None, mode: str = "query", opts: Any = None
) -> dict[str, Any]:
    """The official run loop (protocol doc §4.7) on top of ComputeSession.execute."""
    inputs = list(inputs or [])
    console: list[Any] = []
    statuses: list[str] = []
    options: list[Any] = []
    result = await session.execute(None, code, mode=mode, opts=opts)
    while True:
        console.extend(result["console"])
        statuses.append(result["status"])
        options.append(result["options"])
        if result["status"] == "finished":
            return {
                "console": console,
                "statuses": statuses,
                "exitCode": result["exitCode"],
                "options": options,
            }
        if result["status"] == "waiting-input":
            result = await session.execute(result["runId"], inputs.pop(0), mode="input")
        else:
            result = await session.execute(result["runId"], "", mode="continue")


async def interrupt_busy_loop(session: Any) -> dict[str, Any]:
    first = await session.execute(None, "while True: pass", mode="query")
    await session.interrupt()
    result = first
    console = list(first["console"])
    while result["status"] != "finished":
        result = await session.execute(first["runId"], "", mode="continue")
        console.extend(result["console"])
    return {"first_status": first["status"], "console": console}


async def files_round_trip(session: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as base_dir, tempfile.TemporaryDirectory() as dest:
        base = Path(base_dir)
        (base / "sub").mkdir()
        (base / "hello.txt").write_text("hello from the 26.x peer\n")
        (base / "sub" / "data.bin").write_bytes(bytes(range(256)) * 16)
        upload = await session.upload([base / "hello.txt", base / "sub" / "data.bin"], basedir=base)
        listing = await session.list_files(".")
        sub_listing = await session.list_files("sub")
        downloaded = await session.download(["hello.txt", "sub"], dest=dest)
        return {
            "upload_status": upload.status,
            "listing": listing,
            "sub_listing": sub_listing,
            "downloaded": downloaded,
            "hello": (Path(dest) / "hello.txt").read_text(),
            "data_ok": (Path(dest) / "sub" / "data.bin").read_bytes() == bytes(range(256)) * 16,
        }


async def pty_echo(session: Any) -> dict[str, Any]:
    """Type into the terminal; read its frames whatever their kind (26.x managers send BINARY
    frames, which StreamPty.receive_json cannot read, so the raw messages are used)."""
    text, kinds, broken = "", set(), []
    async with session.stream_pty() as pty:
        # StreamPty.resize/restart use a `ws` attribute 26.9.6 never sets: they fail in the
        # client, whatever the server; the frame resize would send goes out by hand instead.
        for method in (pty.resize(30, 100), pty.restart()):
            try:
                await method
            except AttributeError:
                broken.append(method.__qualname__)
        await pty.send_str(json.dumps({"type": "resize", "rows": 30, "cols": 100}))
        await pty.send_str(
            json.dumps({"type": "stdin", "chars": base64.b64encode(b"echo hi\n").decode()})
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            msg = await asyncio.wait_for(pty.raw_websocket.receive(), deadline - time.monotonic())
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            kinds.add(msg.type.name)
            frame = json.loads(msg.data)
            if frame.get("type") == "out":
                text += base64.b64decode(frame["data"]).decode(errors="replace")
            plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text).replace("\r", "")
            if re.search(r"^hi$", plain, re.MULTILINE):
                break
    return {"output": text, "frame_kinds": sorted(kinds), "broken_in_client": broken}


async def stream_execute(session: Any, code: str, **kwargs: Any) -> dict[str, Any]:
    frames = []
    async with session.stream_execute(code, **kwargs) as ws:
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
    async with session.stream_events() as stream:
        destroyed = asyncio.ensure_future(session.destroy(forced=True))
        async for event in stream:
            events.append({"event": event.event, "data": json.loads(event.data)})
            if event.event == "session_terminated":
                break
    return {"events": events, "destroy": await destroyed}


async def create_with_every_field(api: Any, args: dict[str, Any]) -> Any:
    folder_id = uuid.UUID(args["folder_id"])
    return await api.ComputeSession.get_or_create(
        IMAGE,
        name=NAME,
        type_="interactive",
        priority=42,
        enqueue_only=False,
        max_wait=0,
        mounts=["by-name"],
        mount_map={"by-name": "/home/work/named-here"},
        mount_ids=[folder_id],
        # Keyed by text: the client's JSON encoder cannot write the UUID keys it is typed with.
        mount_id_map={str(folder_id): "/home/work/by-id"},
        mount_options={"by-name": MountOption(permission="rw")},
        envs={"PEER_ENV": "set"},
        resources={"cpu": 1, "mem": "1g"},
        resource_opts={},
        cluster_size=1,
        bootstrap_script=base64.b64encode(BOOTSTRAP.encode()).decode(),
        tag="peer26",
        preopen_ports=[8080],
        assign_agent=[args["agent"]],
    )


async def refused_creates(api: Any, args: dict[str, Any]) -> dict[str, Any]:
    """Fields this server checks and refuses, each in a create of its own."""
    create = api.ComputeSession.get_or_create
    missing = uuid.uuid4()
    return {
        "attach_network": await outcome(
            create(IMAGE, name="peer26-net", attach_network=str(missing))
        ),
        "unknown_folder": await outcome(create(IMAGE, name="peer26-fid", mount_ids=[missing])),
        "other_agent": await outcome(
            create(IMAGE, name="peer26-agt", assign_agent=["i-elsewhere"])
        ),
        "reserved_port": await outcome(create(IMAGE, name="peer26-prt", preopen_ports=[2000])),
        "priority": await outcome(create(IMAGE, name="peer26-pri", priority=101)),
        "read_only": await outcome(
            create(
                IMAGE,
                name="peer26-ro",
                mounts=["by-name"],
                mount_options={"by-name": MountOption(permission="ro")},
            )
        ),
        "architecture": await outcome(create(IMAGE, name="peer26-arc", architecture="riscv64")),
    }


async def session_methods(api: Any, session: Any, out: dict[str, Any]) -> None:
    out["hello"] = await run_loop(
        session,
        "import os\nprint('hello', os.environ['PEER_ENV'],"
        " open('bootstrap-ran.txt').read().strip(), open('by-id/seed.txt').read().strip(),"
        " os.path.isdir('named-here'))",
    )
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
    # execute(mode="complete") sends no "mode": a 26.x manager answers "runId or mode is missing".
    out["execute_complete"] = await outcome(session.execute(None, "peer_d", mode="complete"))
    out["interrupt"] = await interrupt_busy_loop(session)
    await run_loop(session, "open('restart-marker.txt', 'w').write('kept')")
    await session.restart()
    out["after_restart"] = await run_loop(
        session,
        "print(open('restart-marker.txt').read(), 'peer_defined_variable' in globals())",
    )
    out["info"] = await session.get_info()
    out["logs"] = await session.get_logs()
    out["apps"] = await session.stream_app_info()
    out["status_history"] = await session.get_status_history()
    out["files"] = await files_round_trip(session)
    out["pty"] = await pty_echo(session)
    out["stream_execute"] = await stream_execute(
        session, "name = input('name? ')\nprint('ws', name)", mode="query"
    )
    out["stream_batch"] = await stream_execute(
        session, "", mode="batch", opts={"exec": "echo streamed-batch"}
    )
    out["rename"] = await outcome(session.rename("peer26-renamed"))
    session.name = "peer26-renamed"
    out["info_after_rename"] = await api.ComputeSession("peer26-renamed").get_info()


async def single_machine_refusals(api: Any, session: Any) -> dict[str, Any]:
    """Methods that need a cluster's services (see the test for why each cannot work here)."""
    cls = api.ComputeSession
    return {
        "create_from_template": await outcome(cls.create_from_template(uuid.uuid4(), name="tmpl")),
        "get_task_logs": await outcome(_drain(cls.get_task_logs("some-task"))),
        "commit": await outcome(session.commit()),
        "export_to_image": await outcome(session.export_to_image("my-image")),
        "start_service": await outcome(session.start_service("jupyter")),
        "get_dependency_graph": await outcome(session.get_dependency_graph()),
        "get_abusing_report": await outcome(session.get_abusing_report()),
        "detail": await outcome(session.detail()),
        "update": await outcome(session.update(priority=5)),
    }


async def _drain(chunks: Any) -> int:
    return len([chunk async for chunk in chunks])


async def main() -> None:
    args = json.loads(sys.argv[1])
    out: dict[str, Any] = {}
    async with AsyncSession() as api:
        out["api_version"] = list(api.api_version)
        out["server"] = await api.ComputeSession.hello()
        out["refused"] = await refused_creates(api, args)
        session = await create_with_every_field(api, args)
        out["created"] = {
            "created": session.created,
            "status": session.status,
            "id": str(session.id),
        }
        reused = await api.ComputeSession.get_or_create(IMAGE, name=NAME)
        out["reused"] = {"created": reused.created, "status": reused.status, "id": str(reused.id)}
        await session_methods(api, session, out)
        out["single_machine"] = await single_machine_refusals(api, session)
        out["destroy"] = await destroy_with_events(session)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    asyncio.run(main())
