"""Drive the official backend.ai-client (23.9.10) through every Kernel method, in order.

Run with .venv-peer/bin/python; argv[1] is a JSON object: endpoint, access_key,
secret_key, image, name, workdir (a local directory holding the upload fixture "up.txt"
and receiving downloads). Prints one JSON line per call: {"op": ..., "ok": bool}.
The server records what arrives; this script only makes the calls.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any


async def main(args: dict[str, Any]) -> None:
    from ai.backend.client.config import APIConfig
    from ai.backend.client.session import AsyncSession

    config = APIConfig(
        endpoint=args["endpoint"],
        endpoint_type="api",
        access_key=args["access_key"],
        secret_key=args["secret_key"],
    )
    os.chdir(args["workdir"])
    async with AsyncSession(config=config) as api:
        session = await api.ComputeSession.get_or_create(args["image"], name=args["name"])
        report("get_or_create", True)

        async def call(op: str, coro: Any) -> None:
            try:
                await coro
                report(op, True)
            except Exception as e:
                report(op, False, repr(e))

        await call("get_info", session.get_info())
        await call("get_logs", session.get_logs())
        await call("execute_query", session.execute(None, "1+1", mode="query"))
        await call(
            "execute_batch",
            session.execute(
                None, "", mode="batch", opts={"exec": "true", "build": "", "clean": ""}
            ),
        )
        await call("complete", session.complete("pri", {"row": 0, "col": 3, "line": "pri"}))
        await call("interrupt", session.interrupt())
        await call("upload", session.upload(["up.txt"]))
        await call("list_files", session.list_files("."))
        await call("download", session.download(["up.txt"], dest="down"))
        await call("stream_pty", open_and_close(session.stream_pty()))
        await call("stream_execute", stream_run(session.stream_execute("1+1")))
        await call("stream_events", open_and_close(session.listen_events()))
        await call("restart", session.restart())
        await call("destroy", session.destroy())


async def open_and_close(manager: Any) -> None:
    async with manager:
        pass  # the handshake is what the server records


async def stream_run(manager: Any) -> None:
    async with manager as ws:
        async for msg in ws:
            if json.loads(msg.data).get("status") == "finished":
                break


def report(op: str, ok: bool, error: str = "") -> None:
    print(json.dumps({"op": op, "ok": ok, "error": error}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
