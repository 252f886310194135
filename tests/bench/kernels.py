"""Direct Jupyter clients: the baselines every bridge figure is compared with.

Synchronous on purpose (jupyter_client's blocking client is the fastest plain client measured
here); rows call these from a thread so the asyncio side keeps running.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import AsyncKernelManager, KernelManager

TIMEOUT = 120.0


@contextmanager
def jupyter_kernel(cwd: Path) -> Iterator[BlockingKernelClient]:
    """A fresh ipykernel with a ready blocking client; shut down on exit."""
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)


def execute(client: BlockingKernelClient, code: str) -> tuple[float, list[str]]:
    """Run code; return seconds until the reply and the idle status, and the streamed text."""
    started = time.perf_counter()
    msg_id = client.execute(code)
    texts: list[str] = []
    idle = False
    while not idle:
        msg = client.get_iopub_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            texts.append(content["text"])
        elif kind == "execute_result":
            texts.append(content["data"].get("text/plain", ""))
        elif kind == "error":
            raise RuntimeError(f"kernel error: {content['ename']}: {content['evalue']}")
        idle = kind == "status" and content["execution_state"] == "idle"
    _shell_reply(client, msg_id)
    return time.perf_counter() - started, texts


def complete(client: BlockingKernelClient, code: str) -> tuple[float, list[str]]:
    """A plain complete_request at the end of ``code``: seconds to the reply, and the matches."""
    started = time.perf_counter()
    msg_id = client.complete(code, len(code))
    reply = _shell_reply(client, msg_id)
    return time.perf_counter() - started, list(reply["content"]["matches"])


def _shell_reply(client: BlockingKernelClient, msg_id: str) -> dict[str, Any]:
    while True:
        msg: dict[str, Any] = client.get_shell_msg(timeout=TIMEOUT)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg


def use_plain_completer(client: BlockingKernelClient) -> None:
    """Switch IPython's completer from jedi to its plain runtime (attribute/namespace) one."""
    execute(client, "get_ipython().Completer.use_jedi = False")


@asynccontextmanager
async def async_jupyter_kernel(cwd: Path) -> AsyncIterator[AsyncKernelClient]:
    """A fresh ipykernel with jupyter_client's asyncio client (what an asyncio server uses)."""
    manager = AsyncKernelManager(kernel_name="python3")
    await manager.start_kernel(cwd=str(cwd))
    client = manager.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=False)


async def execute_async(client: AsyncKernelClient, code: str) -> float:
    """Seconds until the reply and the idle status, with the asyncio client."""
    started = time.perf_counter()
    msg_id = client.execute(code)
    idle = False
    while not idle:
        msg = await client.get_iopub_msg(timeout=TIMEOUT)
        content = msg["content"]
        idle = (
            msg["parent_header"].get("msg_id") == msg_id
            and msg["msg_type"] == "status"
            and content["execution_state"] == "idle"
        )
    while (await client.get_shell_msg(timeout=TIMEOUT))["parent_header"].get("msg_id") != msg_id:
        pass
    return time.perf_counter() - started
