"""The session event stream (§5.1): lifecycle events of the registry, filtered per request."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from aiohttp import web

from bai_bridge.local.context import api_version, owner_key, server
from bai_bridge.local.errors import InvalidParams, NoSuchGroup
from bai_bridge.local.events import EventBus, SessionEvent, serve_events
from bai_bridge.local.registry import Lifecycle

SCOPES = ("*", "session", "kernel")
GROUP_KEYS = ("group", "groupName", "group_name")


def to_event(lifecycle: Lifecycle) -> SessionEvent:
    session = lifecycle.session
    return SessionEvent(
        name=lifecycle.name,
        session_name=session.name,
        session_id=session.id,
        access_key=session.spec.access_key,
        reason=lifecycle.reason,
        exit_code=lifecycle.exit_code,
        kernel_id=str(session.kernel_id),
        group=session.spec.group,
    )


def session_filter(request: web.Request) -> Callable[[SessionEvent], bool]:
    """Which events a request asked for: own sessions, by name or UUID, by group, and scope
    (v6+). A group no session was ever created in is unknown here (404)."""
    query = request.query
    major = api_version(request).major
    owner = query.get("ownerAccessKey") or owner_key(request)
    name_keys = ("sessionId",) if major <= 4 else ("name", "sessionName")
    name = next((query[k] for k in name_keys if k in query), "*")
    session_id = parse_uuid(query["sessionId"]) if major >= 6 and "sessionId" in query else None
    scope = query.get("scope", "*") if major >= 6 else "*"
    if scope not in SCOPES:
        raise InvalidParams("Input validation error", {"scope": f"must be one of {SCOPES}"})
    group = next((query[k] for k in GROUP_KEYS if k in query), "*")
    if group != "*" and group not in server(request).registry.groups:
        raise NoSuchGroup(group)

    def match(event: SessionEvent) -> bool:
        if event.access_key != owner or group not in ("*", event.group):
            return False
        if session_id is not None:
            if event.session_id != session_id:
                return False
        elif name != "*" and event.session_name != name:
            return False
        return scope == "*" or event.name.startswith(scope + "_")

    return match


def parse_uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise InvalidParams("Input validation error", {"sessionId": "must be a UUID"}) from None


def publish(bus: EventBus, lifecycle: Lifecycle) -> None:
    if not bus.closed:
        bus.publish(to_event(lifecycle))


async def stream_events(request: web.Request) -> web.StreamResponse:
    context = server(request)
    return await serve_events(
        request,
        context.bus,
        match=session_filter(request),
        api_major=api_version(request).major,
        ping_interval=context.config.event_ping_interval,
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/stream/kernel/_/events", stream_events)
    app.router.add_get("/events/session", stream_events)
