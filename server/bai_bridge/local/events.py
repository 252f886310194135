"""Session lifecycle events: the bus they are published on and their SSE stream (§5.1)."""

from __future__ import annotations

from bai_bridge.local.events_bus import EventBus, EventSubscription
from bai_bridge.local.events_sse import serve_events
from bai_bridge.local.events_types import PublishedEvent, SessionEvent
from bai_bridge.local.events_wire import event_payload, legacy_name, sse_frame

__all__ = [
    "EventBus",
    "EventSubscription",
    "PublishedEvent",
    "SessionEvent",
    "event_payload",
    "legacy_name",
    "serve_events",
    "sse_frame",
]
