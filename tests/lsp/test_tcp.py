"""`bai-bridge lsp --tcp HOST:PORT` (for debugging): one client, plain JSON-RPC framing."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from typing import Any

from .lsp_harness import server_env


async def send(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    body = json.dumps({"jsonrpc": "2.0", **message}).encode()
    writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    await writer.drain()


async def receive(reader: asyncio.StreamReader, want_id: int) -> dict[str, Any]:
    """Messages until the response with ``want_id`` (notifications are skipped)."""
    while True:
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        message: dict[str, Any] = json.loads(await reader.readexactly(length))
        if message.get("id") == want_id:
            return message


async def listening_port(stderr: asyncio.StreamReader) -> int:
    pattern = re.compile(rb"client on 127\.0\.0\.1:(\d+)")
    while not (match := pattern.search(await stderr.readline())):
        pass
    return int(match.group(1))


async def test_tcp_mode_serves_one_client(tmp_path: Any, profile: str) -> None:
    env = server_env(profile)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bai_bridge", "lsp", "--tcp", "127.0.0.1:0",
        env=env, stdin=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    try:
        async with asyncio.timeout(60):
            port = await listening_port(process.stderr)
            drain = asyncio.create_task(process.stderr.read())  # keep the pipe from filling
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            root = tmp_path.as_uri()
            params = {"processId": None, "rootUri": root, "capabilities": {}}
            await send(writer, {"id": 1, "method": "initialize", "params": params})
            answer = await receive(reader, 1)
            commands = answer["result"]["capabilities"]["executeCommandProvider"]["commands"]
            assert "bai-bridge.runCell" in commands
            await send(writer, {"id": 2, "method": "shutdown"})
            await receive(reader, 2)
            await send(writer, {"method": "exit"})
            assert await process.wait() == 0
            writer.close()
            await drain
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
