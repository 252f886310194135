"""`bai-bridge local-server` as its own process: start-up output, keypair storage, and
SIGTERM stopping every kernel and terminal (no orphans)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import stat
from pathlib import Path

import aiohttp

from bai_bridge.local.config import stored_keypair
from serverkit import SignedClient, StandaloneServer


def test_keypair_is_generated_once_and_private(tmp_path: Path) -> None:
    first = stored_keypair(tmp_path / "cfg")
    second = stored_keypair(tmp_path / "cfg")
    assert first == second
    assert first.access_key.startswith("AKIA")
    mode = stat.S_IMODE((tmp_path / "cfg" / "keypair.json").stat().st_mode)
    assert mode == 0o600


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by its parent; /proc says which.
    status = Path(f"/proc/{pid}/status").read_text()
    return "\nState:\tZ" not in status


async def test_sigterm_stops_every_kernel_and_terminal(
    local_server_process: StandaloneServer,
) -> None:
    server = local_server_process
    async with aiohttp.ClientSession() as http:
        client = SignedClient(server.endpoint, server.access_key, server.secret_key, http)
        await client.create("standalone-one")
        run = await client.run("standalone-one", "import os; print(os.getpid())")
        kernel_pid = int(run["console"][0][1])
        path = "/stream/session/standalone-one/pty"
        ws = await http.ws_connect(server.endpoint + path, headers=client.ws_headers(path))
        await ws.send_str(
            json.dumps({"type": "stdin", "chars": base64.b64encode(b"echo $$\n").decode()})
        )
        shell_pid = None
        async for msg in ws:
            text = base64.b64decode(json.loads(msg.data)["data"]).decode(errors="replace")
            digits = [w for w in text.replace("\r", "\n").split("\n") if w.strip().isdigit()]
            if digits:
                shell_pid = int(digits[0])
                break
        assert shell_pid is not None
        assert pid_alive(kernel_pid)
        assert pid_alive(shell_pid)
        server.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.process.wait, 30)
        await ws.close()
    assert code == 0
    assert not pid_alive(kernel_pid)
    assert not pid_alive(shell_pid)
    assert server.secret_key not in (server.process.stdout.read() if server.process.stdout else "")


async def test_in_process_close_stops_every_kernel(tmp_path: Path) -> None:
    from bai_bridge.local.serve import start_server
    from serverkit import random_config

    server = await start_server(random_config(tmp_path / "data"))
    try:
        async with aiohttp.ClientSession() as http:
            client = SignedClient(server.endpoint, server.access_key, server.secret_key, http)
            assert server.endpoint.startswith("http://127.0.0.1:")
            assert not server.endpoint.endswith(":0")
            pids = []
            for name in ("closing-one", "closing-two"):
                await client.create(name)
                run = await client.run(name, "import os; print(os.getpid())")
                pids.append(int(run["console"][0][1]))
    finally:
        await server.close()
    assert not any(pid_alive(pid) for pid in pids)
