"""Finding the person's existing sessions (the manager's session list), to attach to one.

Knows nothing of LSP: a page of the sessions one can work in, and one session named by its
id (or the start of it, as the CLI takes) or its name.
"""

from __future__ import annotations

from bai_bridge.api import APISession, Kernel, SessionPage, SessionSummary, list_sessions

__all__ = ["LIVE", "SessionNotFound", "find_session", "kernel_for", "live_sessions"]

# Statuses of a session one can attach to (every manager since 21.03 knows these names).
LIVE = "PENDING,SCHEDULED,PREPARING,PULLING,RUNNING,RESTARTING,RUNNING_DEGRADED"
PAGE = 100
MAX_PAGES = 20  # 2,000 sessions: past any person's; keeps a lookup from walking for ever
# A shorter id prefix matches too much to be what a person meant.
MIN_PREFIX = 4


class SessionNotFound(LookupError):
    """No live session of the person's matches (or several do)."""


async def live_sessions(api: APISession, limit: int = PAGE, status: str = LIVE) -> SessionPage:
    return await list_sessions(api, status=status, limit=limit)


async def find_session(api: APISession, target: str) -> SessionSummary:
    """The live session whose id or name is ``target``, else the one whose id starts with it."""
    target = target.strip()
    seen: list[SessionSummary] = []
    for page_number in range(MAX_PAGES):
        page = await list_sessions(api, status=LIVE, limit=PAGE, offset=page_number * PAGE)
        seen.extend(page.items)
        exact = [s for s in page.items if target in (s.id, s.name)]
        if exact:
            return exact[0]
        if len(seen) >= page.total_count or not page.items:
            break
    prefixed = [s for s in seen if len(target) >= MIN_PREFIX and s.id.startswith(target.lower())]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        raise SessionNotFound(f"{len(prefixed)} sessions have ids starting with {target!r}")
    raise SessionNotFound(f"no running session of yours is named {target!r} or has that id")


def kernel_for(api: APISession, summary: SessionSummary) -> Kernel:
    """The client object of an existing session (nothing is created)."""
    name = summary.name or summary.id
    session_id = summary.id if api.api_version.major >= 5 else None
    return api.Kernel(name, session_id=session_id, created=False, status=summary.status or "")
