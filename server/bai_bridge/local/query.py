"""Query mode: one Jupyter execution turned into console records and markers (§4.3, §4.5)."""

from __future__ import annotations

from typing import Any

from bai_bridge.local.kernel import JupyterKernel, KernelDied, Routed
from bai_bridge.local.runs import Marker, Record, Run

DISPLAY_TYPES = ("display_data", "execute_result", "update_display_data")


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


async def run_query(run: Run, kernel: JupyterKernel, code: str) -> None:
    """Execute ``code`` and feed the run until the kernel reports the execution done."""
    msg_id, queue = kernel.execute(code)
    replied = idle = False
    try:
        while not (replied and idle):
            item = await queue.get()
            if isinstance(item, KernelDied):
                run.end(item.exit_code, died_message(item.exit_code))
                return
            for out in records_of(item):
                await run.put(out)
            msg_type = item.msg["header"]["msg_type"]
            replied = replied or (item.channel == "shell" and msg_type == "execute_reply")
            state = item.msg["content"].get("execution_state")
            idle = idle or (item.channel == "iopub" and state == "idle")
        # User exceptions still finish with 0 (protocol doc §4.2).
        await run.put(Marker("finished", 0))
    finally:
        kernel.forget(msg_id)
