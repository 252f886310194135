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


async def _attach(client: SignedClient, path: str) -> aiohttp.ClientWebSocketResponse:
    return await client.session.ws_connect(client.endpoint + path, headers=client.ws_headers(path))


async def _replay(ws: aiohttp.ClientWebSocketResponse) -> tuple[dict[str, int], str]:
    """The next replay frame's span and text (frames before it are live output)."""
    async with asyncio.timeout(20):
        while "replay" not in (frame := json.loads((await ws.receive()).data)):
            pass
    return frame["replay"], base64.b64decode(frame["data"]).decode(errors="replace")


async def test_a_re_attach_replays_the_output_after_what_the_viewer_had(
    client: SignedClient,
) -> None:
    await client.create("pty-replay")
    path = "/stream/session/pty-replay/pty"
    first = await _attach(client, path + "?since=-1")
    try:
        (span, text) = await _replay(first)  # none: only where the output stands
        assert (span["to"], text) == (span["from"], "")
        await type_and_read(first, "echo one-$((0+1))", r"^one-1$")
    finally:
        await first.close()
    second = await _attach(client, path + f"?since={span['from']}")
    try:
        (again, text) = await _replay(second)
        assert again["from"] == span["from"]
        assert "one-1" in text
        await second.send_str(json.dumps({"type": "restart"}))
        (restarted, text) = await _replay(second)  # a new shell: its count starts afresh
        assert restarted["from"] < again["to"]
        assert text == ""
    finally:
        await second.close()
