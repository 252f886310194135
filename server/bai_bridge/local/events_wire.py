"""How an event looks on the wire for each API generation (§5.1), as SSE frames."""

from __future__ import annotations

import json
from typing import Any

from bai_bridge.local.events_types import PublishedEvent, SessionEvent

# v4/v5 servers only knew kernel_* names; the session_* ones map onto them.
_LEGACY_NAMES = {
    "session_enqueued": "kernel_enqueued",
    "session_started": "kernel_started",
    "session_terminated": "kernel_terminated",
    "session_cancelled": "kernel_cancelled",
    "session_success": "kernel_success",
    "session_failure": "kernel_failure",
}


def legacy_name(name: str) -> str | None:
    """The v4/v5 name of a v6+ event name; None where old servers had no such event."""
    if name.startswith("kernel_"):
        return name
    return _LEGACY_NAMES.get(name)


def event_payload(item: PublishedEvent, api_major: int) -> tuple[str, dict[str, Any]] | None:
    """(event name, data) as a client of `api_major` expects them; None to leave it out."""
    event = item.event
    if api_major >= 6:
        return event.name, _modern_data(event)
    name = legacy_name(event.name)
    if name is None or item.legacy_repeat:
        return None
    if api_major == 4:
        data = {"sessionId": event.session_name, "ownerAccessKey": event.access_key}
    else:
        data = {"sessionName": event.session_name, "ownerAccessKey": event.access_key}
    return name, {**data, "reason": event.reason}


def _modern_data(event: SessionEvent) -> dict[str, Any]:
    data: dict[str, Any] = {
        "reason": event.reason,
        "sessionName": event.session_name,
        "ownerAccessKey": event.access_key,
        "sessionId": str(event.session_id),
    }
    if event.kernel_id is not None:
        data["kernelId"] = event.kernel_id
    return {**data, "clusterRole": "main", "clusterIdx": 0, "exitCode": event.exit_code}


def sse_frame(item: PublishedEvent, api_major: int) -> bytes | None:
    """The SSE message for `item` (framed as aiohttp-sse does), or None to leave it out."""
    payload = event_payload(item, api_major)
    if payload is None:
        return None
    name, data = payload
    name = "".join(name.splitlines())  # a field value must stay on its line
    return f"id: {item.id}\r\nevent: {name}\r\ndata: {json.dumps(data)}\r\n\r\n".encode()


PING_FRAME = b": ping\r\n\r\n"
