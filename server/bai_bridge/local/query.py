"""Query mode: one Jupyter execution turned into console records and markers (§4.3, §4.5)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from bai_bridge.local.kernel import KernelDied, Routed, Sink
from bai_bridge.local.runs import Marker, Record, Run

log = logging.getLogger(__name__)

DISPLAY_TYPES = ("display_data", "execute_result", "update_display_data")
# An execution is done when both its reply (shell) and the kernel's idle status (iopub) are in;
# they come milliseconds apart. iopub is publish/subscribe, so under load a status can be
# dropped: once one of the two is in, a run ends after this long with no message for it.
OTHER_MARKER_GRACE = 3.0


class Executor(Protocol):
    def execute(self, code: str, sink: Sink, silent: bool = False) -> str: ...

    def forget(self, msg_id: str) -> None: ...


def display_record(data: dict[str, Any]) -> Record | None:
    """The richest console item for a Jupyter mime bundle."""
    for mime in ("image/png", "image/jpeg", "image/gif"):
        if mime in data:
            payload = "".join(str(data[mime]).split())  # base64 may carry line breaks
            return Record("media", [mime, f"data:{mime};base64,{payload}"])
    if "image/svg+xml" in data:
        return Record("media", ["image/svg+xml", str(data["image/svg+xml"])])
    if "text/html" in data:
        return Record("html", str(data["text/html"]))
    if "text/plain" in data:
        return Record("stdout", str(data["text/plain"]) + "\n")
    return None


def records_of(item: Routed) -> list[Record | Marker]:
    msg_type = item.msg["header"]["msg_type"]
    content = item.msg["content"]
    if item.channel == "stdin" and msg_type == "input_request":
        prompt = str(content.get("prompt", ""))
        waiting = Marker("waiting-input", None, {"is_password": bool(content.get("password"))})
        return [Record("stdout", prompt), waiting] if prompt else [waiting]
    if item.channel != "iopub":
        return []
    if msg_type == "stream":
        return [Record(str(content.get("name", "stdout")), str(content.get("text", "")))]
    if msg_type in DISPLAY_TYPES:
        record = display_record(content.get("data", {}))
        return [record] if record else []
    if msg_type == "error":
        return [Record("stderr", "\n".join(content.get("traceback", [])) + "\n")]
    return []


def died_message(exit_code: int) -> str:
    return (
        f"The session's kernel died (exit code {exit_code}) while running this code; "
        "restart the session to continue.\n"
    )


def start_query(
    run: Run,
    kernel: Executor,
    code: str,
    grace: float = OTHER_MARKER_GRACE,
    *,
    silent: bool = False,
) -> asyncio.Future[None]:
    """Send ``code`` to the kernel now (``silent``: see `JupyterKernel.execute`); its messages
    feed the run as they arrive. The future is done once the kernel reports the execution
    done; cancelling it drops the rest."""
    feed = _QueryFeed(run, grace)
    msg_id = kernel.execute(code, feed, silent)

    def settled(_: asyncio.Future[None]) -> None:
        feed.stop()
        kernel.forget(msg_id)

    feed.done.add_done_callback(settled)
    return feed.done


class _QueryFeed:
    """Turns one execution's kernel messages into the run's records as they arrive, with no
    task in between (the kernel's messages come regardless of how fast the run is read)."""

    def __init__(self, run: Run, grace: float) -> None:
        self.run = run
        self.grace = grace
        self.replied = self.idle = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None

    def __call__(self, item: Routed | KernelDied) -> None:
        if self.done.done():
            return
        if isinstance(item, KernelDied):
            self.run.end(item.exit_code, died_message(item.exit_code))
            self._finish()
            return
        for out in records_of(item):
            self.run.push(out)
        msg_type = item.msg["header"]["msg_type"]
        self.replied = self.replied or (item.channel == "shell" and msg_type == "execute_reply")
        state = item.msg["content"].get("execution_state")
        self.idle = self.idle or (item.channel == "iopub" and state == "idle")
        if self.replied and self.idle:
            self._finished()
        elif self.replied or self.idle:
            self._wait_for_the_other()

    def _wait_for_the_other(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.grace, self._give_up)

    def _give_up(self) -> None:
        missing = "idle status" if self.replied else "execute reply"
        log.warning("run %s: no %s from the kernel; ending the run", self.run.run_id, missing)
        self._finished()

    def _finished(self) -> None:
        self.run.push(Marker("finished", 0))  # user exceptions still finish with 0 (§4.2)
        self._finish()

    def _finish(self) -> None:
        self.stop()
        self.done.set_result(None)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
