"""``get_info`` reports the session's slots as a manager does (a Python repr of Decimal
amounts) and the kernel's real usage, its child processes included, in ``lastStat``."""

from __future__ import annotations

from typing import Any

from bai_bridge.api.slots import parse_live_usage, parse_slots
from serverkit import SignedClient, text_of

IMAGE = "python:3.11-ubuntu20.04"
MB = 2**20
BLOB = 128 * MB


async def info(client: SignedClient, sid: str) -> dict[str, Any]:
    reply = await client.request("GET", f"/session/{sid}")
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.json()
    return body


async def test_slots_are_a_managers_decimal_repr(client: SignedClient) -> None:
    await client.create("usage-slots", IMAGE, config={"resources": {"cpu": 2, "mem": "1g"}})
    body = await info(client, "usage-slots")
    for key in ("occupiedSlots", "occupyingSlots", "requestedSlots"):
        assert body[key] == "{'cpu': Decimal('2'), 'mem': Decimal('1073741824')}"
        slots = parse_slots(body[key])
        assert slots is not None
        assert (slots.cpu, slots.mem) == (2.0, 1024 * MB)


async def test_a_busy_kernel_and_its_children_are_measured(client: SignedClient) -> None:
    await client.create("usage-busy", IMAGE)
    before = parse_live_usage((await info(client, "usage-busy"))["lastStat"])
    assert before is not None
    assert before.mem is not None
    assert before.cpu_used_ms is not None
    # The kernel holds a blob and spends a second of CPU; a child it started holds another.
    run = await client.run(
        "usage-busy",
        "import subprocess, sys, time\n"
        f"blob = b'x' * {BLOB}\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        f"\"import sys; b = b'y' * {BLOB}; print('ready', flush=True); sys.stdin.read()\"], "
        "stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)\n"
        "print(child.stdout.readline().strip())\n"
        "end = time.process_time() + 1.0\n"
        "while time.process_time() < end:\n"
        "    pass\n",
    )
    assert text_of(run["console"]) == "ready\n"
    after = parse_live_usage((await info(client, "usage-busy"))["lastStat"])
    assert after is not None
    assert after.mem is not None
    assert after.cpu_used_ms is not None
    assert after.cpu_used_ms - before.cpu_used_ms >= 900
    # Both blobs: the kernel process alone would show only one of them.
    assert after.mem - before.mem >= 2 * BLOB * 0.95
    await client.run("usage-busy", "child.stdin.close(); child.wait()")
