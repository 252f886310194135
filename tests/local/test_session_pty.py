"""The PTY WebSocket on the real session routes (§5.2): a shell in the work dir, resize,
restart (a new shell and a new kernel, same work dir)."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import aiohttp

from serverkit import SignedClient, text_of

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


async def type_and_read(
    ws: aiohttp.ClientWebSocketResponse, line: str, pattern: str
) -> re.Match[str]:
    """Send a line to the shell; read output until ``pattern`` matches a whole line."""
    await ws.send_str(
        json.dumps({"type": "stdin", "chars": base64.b64encode(line.encode() + b"\n").decode()})
    )
    text = ""
    async with asyncio.timeout(20):
        async for msg in ws:
            frame = json.loads(msg.data)
            text += base64.b64decode(frame["data"]).decode(errors="replace")
            plain = ANSI.sub("", text).replace("\r", "")
            if match := re.search(pattern, plain, re.MULTILINE):
                return match
    raise AssertionError(f"no {pattern!r} in {text!r}")


async def test_pty_shell_resize_and_restart(client: SignedClient) -> None:
    await client.create("pty-sess")
    before = await client.run("pty-sess", "import os; print(os.getpid())")
    path = "/stream/session/pty-sess/pty"
    ws = await client.session.ws_connect(client.endpoint + path, headers=client.ws_headers(path))
    try:
        where = await type_and_read(ws, "echo at:$(pwd)", r"^at:(/\S+)$")
        assert where.group(1).endswith("/work")
        await ws.send_str(json.dumps({"type": "resize", "rows": 33, "cols": 101}))
        await ws.send_str(json.dumps({"type": "ping"}))
        size = await type_and_read(ws, "echo size:$(stty size)", r"^size:(\d+ \d+)$")
        assert size.group(1) == "33 101"
        first_shell = await type_and_read(ws, "touch made-in-pty; echo shell:$$", r"^shell:(\d+)$")
        await ws.send_str(json.dumps({"type": "restart"}))
        second_shell = await type_and_read(ws, "echo shell:$$", r"^shell:(\d+)$")
        assert second_shell.group(1) != first_shell.group(1)
    finally:
        await ws.close()
    after = await client.run(
        "pty-sess", "import os; print(os.getpid(), os.path.exists('made-in-pty'))"
    )
    pid, exists = text_of(after["console"]).split()
    assert pid != text_of(before["console"]).strip()  # the kernel restarted too
    assert exists == "True"
