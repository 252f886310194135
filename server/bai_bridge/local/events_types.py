"""Session lifecycle events as published inside the server (v6+ names, §5.1)."""

from __future__ import annotations

import uuid

import attrs


@attrs.frozen
class SessionEvent:
    """One lifecycle step of a session, named as API v6+ names it (e.g. ``session_started``)."""

    name: str
    session_name: str
    session_id: uuid.UUID
    access_key: str
    reason: str = ""
    exit_code: int | None = None
    kernel_id: str | None = None
    group: str = "default"


@attrs.frozen
class PublishedEvent:
    """An event with its stream id.

    `legacy_repeat` marks an event whose v4/v5 (``kernel_*``) name is the same as that of
    the previous event of its session (``session_started`` right after ``kernel_started``):
    old clients get it once.
    """

    id: int
    event: SessionEvent
    legacy_repeat: bool = False
