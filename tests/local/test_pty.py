"""The session terminal: a real pty running bash, and its §5.2 WebSocket on a real server."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bai_bridge.local.pty import Terminal, TerminalClosed, TerminalOutput, serve_pty
from bai_bridge.local.session_home import bash_rc, home_environment

TIMEOUT = 10.0


def shell_env(home: Path) -> dict[str, str]:
    """A predictable bash: no rc files of the person running the tests."""
    return {"HOME": str(home), "PATH": os.environ["PATH"], "SHELL": "/bin/bash", "LANG": "C"}


async def read_until(terminal: Terminal, pattern: bytes, within: float = TIMEOUT) -> bytes:
    """Read the terminal until `pattern` (a regex) matches what was read."""
    seen = b""

    async def loop() -> bytes:
        nonlocal seen
        while not re.search(pattern, seen):
            chunk = await terminal.read()
            if not chunk:
                raise EOFError(seen)
            seen += chunk
        return seen

    return await asyncio.wait_for(loop(), within)


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[Terminal]:
    term = await Terminal.spawn(tmp_path, shell_env(tmp_path), rows=30, cols=100)
    try:
        yield term
    finally:
        await term.close()


async def test_echo_hi_reads_back(terminal: Terminal) -> None:
    await terminal.write(b"echo h''i\n")
    await read_until(terminal, rb"[\r\n]hi\r\n")


async def test_shell_runs_in_cwd_with_env(tmp_path: Path) -> None:
    env = {**shell_env(tmp_path), "BRIDGE_MARK": "marked"}
    term = await Terminal.spawn(tmp_path, env)
    try:
        await term.write(b'echo "<$PWD|$TERM|$BRIDGE_MARK>"\n')
        seen = await read_until(term, rb"<[^$\r\n]*\|[^$\r\n]*\|[^$\r\n]*>")
        assert f"<{tmp_path}|xterm-256color|marked>".encode() in seen
    finally:
        await term.close()


async def test_resize_is_seen_by_stty(terminal: Terminal) -> None:
    await terminal.write(b"stty size\n")
    await read_until(terminal, rb"[\r\n]30 100\r\n")
    terminal.resize(50, 132)
    await terminal.write(b"stty size\n")
    await read_until(terminal, rb"[\r\n]50 132\r\n")


async def test_shell_has_job_control(terminal: Terminal) -> None:
    # The pty is the shell's controlling terminal: a job can be started and listed.
    await terminal.write(b"sleep 30 &\njobs\n")
    await read_until(terminal, rb"\[1\]\+\s+Running\s+sleep 30")


async def test_close_leaves_no_process(tmp_path: Path) -> None:
    term = await Terminal.spawn(tmp_path, shell_env(tmp_path))
    shell_pid = term.pid
    # A plain job, a nohup job and a job ignoring SIGHUP and SIGTERM.
    await term.write(
        b"sleep 300 & echo P1=$!\n"
        b"nohup sleep 301 >/dev/null 2>&1 & echo P2=$!\n"
        b"(trap '' HUP TERM; exec sleep 302) & echo P3=$!\n"
    )
    seen = await read_until(term, rb"P3=(\d+)\r\n")
    job_pids = [int(p) for p in re.findall(rb"P\d=(\d+)\r\n", seen)]
    assert len(job_pids) == 3
    started = time.monotonic()
    await term.close()
    elapsed = time.monotonic() - started
    assert not term.alive
    with pytest.raises(ProcessLookupError):
        os.kill(shell_pid, 0)  # reaped, not a zombie
    procs = [psutil.Process(pid) for pid in job_pids if psutil.pid_exists(pid)]
    _, alive = psutil.wait_procs(procs, timeout=TIMEOUT)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    assert elapsed < 5


async def test_exit_gives_eof(terminal: Terminal) -> None:
    await terminal.write(b"exit 3\n")
    with pytest.raises(EOFError):
        await read_until(terminal, rb"never printed")
    assert await terminal.read() == b""
    await terminal.close()
    assert not terminal.alive


@pytest.mark.parametrize("attempt", range(5))
async def test_last_output_before_exit_is_delivered(tmp_path: Path, attempt: int) -> None:
    term = await Terminal.spawn(tmp_path, shell_env(tmp_path))
    try:
        await term.write(b"printf 'LAST_%s\\n' WORDS; exit\n")
        seen = b""
        while chunk := await asyncio.wait_for(term.read(), TIMEOUT):
            seen += chunk
        assert b"LAST_WORDS\r\n" in seen
    finally:
        await term.close()


async def test_reads_are_coalesced(terminal: Terminal) -> None:
    await terminal.write(b"head -c 3000000 /dev/zero | tr '\\0' x; echo; echo DONE\n")
    sizes = []
    seen = b""
    while not re.search(rb"[\r\n]DONE\r\n", seen):
        chunk = await asyncio.wait_for(terminal.read(), TIMEOUT)
        sizes.append(len(chunk))
        seen = seen[-64:] + chunk
    assert max(sizes) > 4096
    assert max(sizes) <= 64 * 1024


def _direct_pty_rate(command: str, marker: bytes) -> float:
    """MB/s of `command`'s output read straight from a pty with blocking reads."""
    master, slave = os.openpty()
    proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    total, tail = 0, b""
    started = time.perf_counter()
    try:
        while marker not in tail:
            chunk = os.read(master, 65536)
            total += len(chunk)
            tail = tail[-64:] + chunk
        return total / (time.perf_counter() - started) / 1e6
    finally:
        proc.wait()
        os.close(master)


# The marker is built by printf, so the echo of the typed command never contains it.
BULK = "head -c 60000000 /dev/zero | tr '\\0' x; printf '\\nBULK_%s\\n' DONE"


async def test_bulk_output_throughput(terminal: Terminal) -> None:
    """Reading through the event loop keeps up with a direct blocking read of a pty."""
    direct = await asyncio.to_thread(_direct_pty_rate, BULK, b"BULK_DONE\r\n")
    await terminal.write(b"stty -echo\n")  # keep the command's echo out of the count
    await terminal.write(BULK.encode() + b"\n")
    total, tail = 0, b""
    started = time.perf_counter()
    while b"BULK_DONE\r\n" not in tail:
        chunk = await asyncio.wait_for(terminal.read(), TIMEOUT)
        total += len(chunk)
        tail = tail[-64:] + chunk
    ours = total / (time.perf_counter() - started) / 1e6
    print(
        f"\npty bulk output: Terminal.read {ours:.0f} MB/s, direct blocking read {direct:.0f} MB/s"
    )
    assert total >= 60_000_000
    assert ours > direct / 3  # a loose floor: these machines are shared and noisy


# --- the WebSocket ---------------------------------------------------------------------------


class TerminalHolder:
    """What a session registry does for the socket: one terminal, restart replaces it."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.current: Terminal | None = None
        self.restarts = 0
        self.pings = 0
        self.pinged = asyncio.Event()
        self.handlers_done = 0
        self.handler_done = asyncio.Event()
        self.closed: list[Terminal] = []

    async def terminal(self) -> Terminal:
        if self.current is None or not self.current.alive:
            self.current = await Terminal.spawn(self.cwd, shell_env(self.cwd))
        return self.current

    async def restart(self) -> Terminal:
        self.restarts += 1
        if self.current is not None:
            await self.current.close()
            self.closed.append(self.current)
        self.current = None
        return await self.terminal()

    async def ping(self) -> None:
        self.pings += 1
        self.pinged.set()

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        try:
            return await serve_pty(request, self.terminal, self.restart, self.ping)
        finally:
            self.handlers_done += 1
            self.handler_done.set()

    async def close(self) -> None:
        for term in [self.current, *self.closed]:
            if term is not None:
                await term.close()


@pytest.fixture
async def pty_server(
    tmp_path: Path,
) -> AsyncIterator[tuple[TestClient[Any, Any], TerminalHolder]]:
    holder = TerminalHolder(tmp_path)
    app = web.Application()
    app.router.add_get("/pty", holder.handler)
    try:
        async with TestClient(TestServer(app, host="127.0.0.1")) as client:
            yield client, holder
    finally:
        await holder.close()


def stdin(text: str) -> str:
    return json.dumps({"type": "stdin", "chars": base64.b64encode(text.encode()).decode()})


async def ws_read_until(
    ws: aiohttp.ClientWebSocketResponse, pattern: bytes, within: float = TIMEOUT
) -> bytes:
    seen = b""

    async def loop() -> bytes:
        nonlocal seen
        while not re.search(pattern, seen):
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise EOFError(message.type, seen)
            frame = json.loads(message.data)
            assert frame["type"] == "out"
            seen += base64.b64decode(frame["data"])
        return seen

    return await asyncio.wait_for(loop(), within)


async def test_ws_echo_hi(pty_server: Any) -> None:
    client, _ = pty_server
    async with client.ws_connect("/pty") as ws:
        await ws.send_str(stdin("echo h''i\n"))
        await ws_read_until(ws, rb"[\r\n]hi\r\n")


async def test_ws_resize_and_ping(pty_server: Any) -> None:
    client, holder = pty_server
    async with client.ws_connect("/pty") as ws:
        await ws.send_str(json.dumps({"type": "resize", "rows": 40, "cols": 120}))
        await ws.send_str(json.dumps({"type": "ping"}))
        await ws.send_str(stdin("stty size\n"))
        await ws_read_until(ws, rb"[\r\n]40 120\r\n")
        await asyncio.wait_for(holder.pinged.wait(), TIMEOUT)
        assert holder.pings == 1


async def test_ws_ignores_malformed_frames(pty_server: Any) -> None:
    client, _ = pty_server
    async with client.ws_connect("/pty") as ws:
        await ws.send_bytes(stdin("echo binary\n").encode())
        for junk in [
            "not json",
            "[1, 2]",
            '"a string"',
            '{"type": "teleport"}',
            '{"no": "type"}',
            '{"type": "stdin", "chars": "***not base64***"}',
            '{"type": "stdin", "chars": 42}',
            '{"type": "stdin"}',
            '{"type": "resize", "rows": "many", "cols": 80}',
            '{"type": "resize", "rows": -1, "cols": 80}',
            '{"type": "resize", "rows": 100000, "cols": 80}',
        ]:
            await ws.send_str(junk)
        await ws.send_str(stdin("echo still h''ere\n"))
        seen = await ws_read_until(ws, rb"[\r\n]still here\r\n")
        assert b"\r\nbinary\r\n" not in seen


async def test_ws_restart_attaches_to_new_terminal(pty_server: Any) -> None:
    client, holder = pty_server
    async with client.ws_connect("/pty") as ws:
        await ws.send_str(stdin("echo PID=$$\n"))
        first = re.findall(rb"PID=(\d+)\r\n", await ws_read_until(ws, rb"PID=\d+\r\n"))[0]
        await ws.send_str(json.dumps({"type": "resize", "rows": 33, "cols": 99}))
        await ws.send_str(json.dumps({"type": "restart"}))
        await ws.send_str(json.dumps({"type": "restart"}))  # a duplicate: ignored
        # Typed during the restart: held for the new shell, not lost in the old one.
        await ws.send_str(stdin("echo AFTER=$$; stty size\n"))
        seen = await ws_read_until(ws, rb"AFTER=\d+\r\n\d+ \d+\r\n")
        after, size = re.findall(rb"AFTER=(\d+)\r\n(\d+ \d+)\r\n", seen)[0]
        assert after != first
        assert size == b"33 99"
        assert holder.restarts == 1
        assert holder.closed
        assert not holder.closed[0].alive
        assert not ws.closed


async def test_ws_two_sockets_share_the_terminal(pty_server: Any) -> None:
    client, _ = pty_server
    async with client.ws_connect("/pty") as first, client.ws_connect("/pty") as second:
        await first.send_str(stdin("echo sh''ared\n"))
        await ws_read_until(first, rb"[\r\n]shared\r\n")
        await ws_read_until(second, rb"[\r\n]shared\r\n")


async def test_ws_closes_when_the_shell_exits(pty_server: Any) -> None:
    client, holder = pty_server
    async with client.ws_connect("/pty") as ws:
        await ws.send_str(stdin("exit\n"))
        with pytest.raises(EOFError) as ended:
            await ws_read_until(ws, rb"never printed")
        assert ended.value.args[0] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await asyncio.wait_for(holder.handler_done.wait(), TIMEOUT)


async def test_ws_client_disconnect_ends_handler(pty_server: Any) -> None:
    client, holder = pty_server
    ws = await client.ws_connect("/pty")
    await ws.send_str(stdin("echo up\n"))
    await ws_read_until(ws, rb"[\r\n]up\r\n")
    await ws.close()
    await asyncio.wait_for(holder.handler_done.wait(), TIMEOUT)
    assert holder.current is not None
    assert holder.current.alive  # the terminal outlives the socket, as a session's does


async def test_ws_bulk_output_throughput(pty_server: Any) -> None:
    client, _ = pty_server
    command = "head -c 30000000 /dev/zero | tr '\\0' x; printf '\\nBULK_%s\\n' DONE\n"
    async with client.ws_connect("/pty", max_msg_size=0) as ws:
        await ws.send_str(stdin("echo ready\n"))
        await ws_read_until(ws, rb"[\r\n]ready\r\n")
        total, frames, tail = 0, 0, b""
        started = time.perf_counter()
        await ws.send_str(stdin(command))
        while b"BULK_DONE\r\n" not in tail:
            message = await asyncio.wait_for(ws.receive(), TIMEOUT)
            chunk = base64.b64decode(json.loads(message.data)["data"])
            total, frames, tail = total + len(chunk), frames + 1, tail[-64:] + chunk
        rate = total / (time.perf_counter() - started) / 1e6
    print(f"\npty bulk output over the WebSocket: {rate:.0f} MB/s, {total / frames:.0f} B/frame")
    assert total >= 30_000_000


async def test_ws_keystroke_echo_latency(pty_server: Any) -> None:
    client, _ = pty_server
    async with client.ws_connect("/pty") as ws:
        await ws.send_str(stdin("echo ready\n"))
        await ws_read_until(ws, rb"[\r\n]ready\r\n(?s:.)*[#$] $")  # and the next prompt
        latencies = []
        for _ in range(50):
            started = time.perf_counter()
            await ws.send_str(stdin("a"))
            await ws_read_until(ws, rb"a")
            latencies.append(time.perf_counter() - started)
        await ws.send_str(stdin("\x15"))  # clear the line
    latencies.sort()
    median, p95 = latencies[25], latencies[47]
    print(f"\npty keystroke echo over the WebSocket: {median * 1e6:.0f} µs [{p95 * 1e6:.0f}]")
    assert median < 0.05


async def test_bash_reads_the_persons_rc_with_their_home_then_lives_in_the_work_folder(
    tmp_path: Path,
) -> None:
    person, work = tmp_path / "person", tmp_path / "the work"
    work.mkdir()
    person.mkdir()
    (person / ".bashrc").write_text('BRIDGE_RC_SAW="$HOME"\n')
    rc = tmp_path / "bashrc"
    rc.write_text(bash_rc(person, work))
    env = home_environment(shell_env(person), work)
    term = await Terminal.spawn(tmp_path, env, bash_rc=rc)
    try:
        await term.write(b'echo "<$BRIDGE_RC_SAW|$HOME|$PWD|$XDG_CACHE_HOME>"\n')
        seen = await read_until(term, rb"<[^$\r\n]*\|[^$\r\n]*\|[^$\r\n]*\|[^$\r\n]*>")
        assert f"<{person}|{work}|{work}|{person}/.cache>".encode() in seen
    finally:
        await term.close()


async def test_missing_shell_falls_back_to_bash(tmp_path: Path) -> None:
    term = await Terminal.spawn(tmp_path, {**shell_env(tmp_path), "SHELL": "/nonexistent/sh"})
    try:
        await term.write(b"echo $BASH_VERSION\n")
        await read_until(term, rb"[\r\n]\d+\.\d+\.\d+")
    finally:
        await term.close()


async def test_a_stalled_viewer_is_dropped_without_holding_others() -> None:
    stalled = TerminalOutput(buffer_limit=10)
    assert await stalled.put(b"x" * 10)
    started = time.monotonic()
    assert not await stalled.put(b"more", grace=0.2)  # full and nobody reads
    assert time.monotonic() - started < 5
    stalled.end()
    assert await stalled.put(b"after the end")  # nothing to deliver, not a stall
    assert await stalled.next() == b"x" * 10
    assert await stalled.next() == b""


async def test_ws_restart_gets_through_a_stuck_paste(pty_server: Any) -> None:
    """A paste into a program that reads no input fills the pty; restart still works."""
    client, holder = pty_server
    async with client.ws_connect("/pty") as ws:
        # Raw mode: the paste is neither read (sleep ignores it) nor discarded.
        await ws.send_str(stdin("echo PID=$$; stty raw -echo; sleep 60\n"))
        first = re.findall(rb"PID=(\d+)\r\n", await ws_read_until(ws, rb"PID=\d+\r\n"))[0]
        paste = "x" * 65536
        for _ in range(8):  # far more than the terminal's input buffers hold
            await ws.send_str(stdin(paste))
        await ws.send_str(json.dumps({"type": "restart"}))
        await ws.send_str(stdin("echo AFTER=$$\n"))
        seen = await ws_read_until(ws, rb"AFTER=\d+\r\n")
        after = re.findall(rb"AFTER=(\d+)\r\n", seen)[-1]
        assert after != first
        assert holder.restarts == 1


async def test_close_while_a_write_waits(terminal: Terminal) -> None:
    terminal.attach()  # keep output flowing: only the input side is stuck
    # Raw mode: input is neither read (the foreground job ignores it) nor discarded.
    await terminal.write(b"stty raw -echo; sleep 60\n")
    blocked = asyncio.create_task(terminal.write(b"x" * 524288))
    done, _ = await asyncio.wait([blocked], timeout=0.5)
    assert not done  # the shell's foreground job reads no input: the write waits
    await asyncio.wait_for(terminal.close(), TIMEOUT)
    with pytest.raises(TerminalClosed):
        await asyncio.wait_for(blocked, TIMEOUT)
