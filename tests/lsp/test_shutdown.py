"""Leaving leaves nothing behind: the embedded server's kernels and terminals end with the
language server, whether the client says `exit` or the process gets SIGTERM."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
from pathlib import Path

import aiohttp
import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import command, field, initialize, open_doc, run_selection, start_client


def alive(pid: int) -> bool:
    """Running and not a zombie waiting to be reaped."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


async def wait_gone(pids: list[int]) -> None:
    async with asyncio.timeout(30):
        # No event exists for another process's exit: poll /proc.
        while any(alive(pid) for pid in pids):  # noqa: ASYNC110
            await asyncio.sleep(0.1)


async def children_of_a_session(client: LanguageClient, root: Path) -> list[int]:
    """The kernel's pid and the terminal shell's pid, as they report them."""
    recorder = await initialize(client, root)
    uri = open_doc(client, root / "pid.py", "import os; print('PID', os.getpid())\n")
    result = await run_selection(client, uri, 0)
    kernel_pid = int(recorder.text(field(result, "runId")).split("PID", 1)[1])
    descriptor = await command(client, protocol.TERMINAL_DESCRIPTOR)
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(field(descriptor, "url"), headers=dict(field(descriptor, "headers"))) as ws,
    ):
        chars = base64.b64encode(b"echo SHELL=$$\n").decode()
        await ws.send_str(json.dumps({"type": "stdin", "chars": chars}))
        seen = ""
        async with asyncio.timeout(20):
            while not (match := re.search(r"SHELL=(\d+)", seen)):
                frame = json.loads((await ws.receive()).data)
                if frame.get("type") == "out":
                    seen += base64.b64decode(frame["data"]).decode(errors="replace")
    return [kernel_pid, int(match.group(1))]


@pytest.mark.parametrize("how", ["exit", "sigterm"])
async def test_no_kernel_or_terminal_outlives_the_language_server(
    how: str, tmp_path: Path, profile: str
) -> None:
    client = await start_client(profile)
    process = client._server
    assert process is not None
    try:
        pids = await children_of_a_session(client, tmp_path)
        assert all(alive(pid) for pid in pids)
        if how == "exit":
            await client.shutdown_session()
        else:
            process.terminate()
        async with asyncio.timeout(30):
            await process.wait()
        await wait_gone(pids)
    finally:
        if process.returncode is None:
            process.kill()
        await client.stop()
    assert os.getpid()  # the test process itself is untouched
