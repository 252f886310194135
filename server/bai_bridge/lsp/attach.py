"""Commands to work in another session: list the person's sessions, attach to one (started
from the WebUI, the CLI or another editor), or start a new one. The session manager does the
switching; sync, the namespace mirror, diagnostics and resources follow its "attached" (or
"created") announcement, and the editor's terminal follows the status's session id."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from bai_bridge.api import Kernel, SessionSummary

from . import protocol
from .commands import command
from .config import default_session_name
from .server import BridgeServer
from .session import SessionManager
from .session_lookup import LIVE, live_sessions

__all__ = ["entry_of", "register"]


def register(server: BridgeServer) -> None:
    @command(server, protocol.LIST_SESSIONS, protocol.ListSessionsArgs, required=False)
    async def list_(
        ls: BridgeServer, args: protocol.ListSessionsArgs | None
    ) -> protocol.SessionList | None:
        args = args or protocol.ListSessionsArgs()
        try:
            sessions = await ls.session_manager()
            page = await live_sessions(
                sessions.api, min(max(args.limit, 1), 100), args.status or LIVE
            )
        except Exception as e:
            ls.fail("listing your sessions", e)
            return None
        now = datetime.now(UTC)
        entries = [entry_of(s, sessions.current, now) for s in page.items]
        return protocol.SessionList(entries, page.total_count)

    @command(server, protocol.ATTACH_SESSION, protocol.AttachSessionArgs)
    async def attach(
        ls: BridgeServer, args: protocol.AttachSessionArgs
    ) -> protocol.SessionChoice | None:
        try:
            sessions = await ls.session_manager()
            await sessions.switch(args.session, destroy_current=args.destroy_current)
        except Exception as e:
            ls.fail(f"attaching to the session {args.session!r}", e)
            return None
        return _choice(sessions)

    @command(server, protocol.NEW_SESSION, protocol.NewSessionArgs, required=False)
    async def new(
        ls: BridgeServer, args: protocol.NewSessionArgs | None
    ) -> protocol.SessionChoice | None:
        args = args or protocol.NewSessionArgs()
        try:
            sessions = await ls.session_manager()
            name = fresh_name(ls.options.session_name or default_session_name(ls.root))
            await sessions.renew(name, destroy_current=args.destroy_current)
        except Exception as e:
            ls.fail("starting a new session", e)
            return None
        return _choice(sessions)


def fresh_name(base: str) -> str:
    """The workspace's session name with a random tail (names are 64 characters at most)."""
    return f"{base[:57].rstrip('-._')}-{secrets.token_hex(3)}"


def _choice(sessions: SessionManager) -> protocol.SessionChoice:
    status = sessions.status
    return protocol.SessionChoice(
        status.session_id, status.session_name, sessions.image, status.state
    )


def entry_of(
    summary: SessionSummary, current: Kernel | None, now: datetime
) -> protocol.SessionEntry:
    created = summary.created()
    slots = summary.allocation()
    resources = (
        protocol.SessionResources(
            cpu=slots.cpu, memory=slots.mem, gpu=slots.cuda_device, fgpu=slots.cuda_shares
        )
        if slots is not None
        else None
    )
    return protocol.SessionEntry(
        id=summary.id,
        name=summary.name or summary.id,
        image=summary.image,
        status=summary.status,
        created_at=summary.created_at,
        age_seconds=round((now - created).total_seconds(), 1) if created else None,
        resources=resources,
        # v4 clients know a session by name only
        current=current is not None
        and current.session_id in (summary.id, None)
        and current.name == summary.name,
    )
