"""When a query run ends: its reply and the kernel's idle status both in, or one of them and
then silence (iopub is publish/subscribe: under load a status can be dropped)."""

from __future__ import annotations

import asyncio
from typing import Any

from bai_bridge.local.kernel import KernelDied, Routed, Sink
from bai_bridge.local.query import start_query
from bai_bridge.local.runs import Run


class Messages:
    """A kernel whose messages for the run are the ones a test sends, delivered the way the
    kernel's sockets deliver them: from the event loop, in order, after the request."""

    def __init__(self) -> None:
        self.sink: Sink | None = None
        self.pending: list[Routed | KernelDied] = []
        self.forgotten: list[str] = []

    def execute(self, code: str, sink: Sink, silent: bool = False) -> str:
        self.sink = sink
        for item in self.pending:
            asyncio.get_running_loop().call_soon(sink, item)
        return "msg-1"

    def forget(self, msg_id: str) -> None:
        self.forgotten.append(msg_id)

    def send(self, channel: str, msg_type: str, **content: Any) -> None:
        item = Routed(channel, {"header": {"msg_type": msg_type}, "content": content})
        if self.sink is None:
            self.pending.append(item)
        else:
            asyncio.get_running_loop().call_soon(self.sink, item)


def reply(kernel: Messages) -> None:
    kernel.send("shell", "execute_reply", status="ok")


def idle(kernel: Messages) -> None:
    kernel.send("iopub", "status", execution_state="idle")


async def result_of(run: Run) -> tuple[str, list[list[Any]]]:
    result = await asyncio.wait_for(run.next_result(flush_window=5.0), 5.0)
    return result.status, result.console


async def test_both_markers_finish_the_run_at_once() -> None:
    kernel, run = Messages(), Run("r")
    kernel.send("iopub", "stream", name="stdout", text="hi\n")
    reply(kernel)
    idle(kernel)
    await asyncio.wait_for(start_query(run, kernel, "print('hi')", grace=60.0), 5.0)
    assert await result_of(run) == ("finished", [["stdout", "hi\n"]])
    assert kernel.forgotten == ["msg-1"]


async def test_a_lost_idle_status_ends_the_run_after_the_grace() -> None:
    kernel, run = Messages(), Run("r")
    reply(kernel)
    kernel.send("iopub", "stream", name="stdout", text="late\n")  # still taken after the reply
    await asyncio.wait_for(start_query(run, kernel, "x", grace=0.2), 5.0)
    assert await result_of(run) == ("finished", [["stdout", "late\n"]])


async def test_a_lost_reply_ends_the_run_after_the_grace() -> None:
    kernel, run = Messages(), Run("r")
    idle(kernel)
    await asyncio.wait_for(start_query(run, kernel, "x", grace=0.2), 5.0)
    assert (await result_of(run))[0] == "finished"


async def test_no_grace_before_either_marker() -> None:
    kernel, run = Messages(), Run("r")
    running = start_query(run, kernel, "import time; time.sleep(60)", grace=0.05)
    done, _ = await asyncio.wait({running}, timeout=0.5)  # ten graces: a long run goes on
    assert not done
    reply(kernel)
    idle(kernel)
    await asyncio.wait_for(running, 5.0)
    assert kernel.forgotten == ["msg-1"]


async def test_a_cancelled_query_stops_taking_messages() -> None:
    kernel, run = Messages(), Run("r")
    running = start_query(run, kernel, "x", grace=60.0)
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert kernel.forgotten == ["msg-1"]
    kernel.send("iopub", "stream", name="stdout", text="late\n")
    reply(kernel)
    idle(kernel)
    await asyncio.sleep(0)  # one loop turn: the messages sent above are delivered by now
    assert (await run.next_result(flush_window=0)).console == []


async def test_a_kernel_that_dies_ends_the_run_with_why() -> None:
    kernel, run = Messages(), Run("r")
    kernel.send("iopub", "stream", name="stdout", text="before\n")
    kernel.pending.append(KernelDied(137))
    await asyncio.wait_for(start_query(run, kernel, "import os; os._exit(137)", grace=60.0), 5.0)
    result = await asyncio.wait_for(run.next_result(flush_window=5.0), 5.0)
    assert (result.status, result.exit_code) == ("finished", 137)
    assert result.console[0] == ["stdout", "before\n"]
    assert "kernel died (exit code 137)" in result.console[1][1]
    assert kernel.forgotten == ["msg-1"]
