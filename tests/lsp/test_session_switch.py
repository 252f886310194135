"""`SessionManager.switch` and `renew` on the embedded server, without the protocol: a session
named by its id's start, refusals (no match, too short a prefix, a run going on), listeners
told "attached", and the session left destroyed only when asked."""

from __future__ import annotations

import pytest

from bai_bridge.api import Kernel, list_sessions
from bai_bridge.lsp.session import SessionBusy, SessionManager
from bai_bridge.lsp.session_lookup import SessionNotFound


async def test_switch_by_id_prefix_and_refusals(sessions: SessionManager) -> None:
    heard: list[tuple[str, str]] = []

    async def listener(kernel: Kernel, reason: str) -> None:
        heard.append((kernel.name, reason))

    sessions.on_ready.append(listener)
    own = await sessions.kernel()
    other = await sessions.api.Kernel.get_or_create("python", client_token="switch-other")
    assert other.session_id is not None

    switched = await sessions.switch(other.session_id[:8])
    assert (switched.name, switched.session_id) == ("switch-other", other.session_id)
    assert sessions.current is switched
    assert (sessions.status.state, sessions.status.session_name) == ("running", "switch-other")
    with pytest.raises(SessionNotFound, match="no running session of yours"):
        await sessions.switch("nothing-like-it")
    with pytest.raises(SessionNotFound):
        await sessions.switch(other.session_id[:3])  # too short to mean one session
    sessions.run_started()
    try:
        with pytest.raises(SessionBusy):
            await sessions.switch(own.name)
    finally:
        sessions.run_finished()
    assert sessions.current is switched

    await sessions.switch(own.name)
    fresh = await sessions.renew("switch-fresh", destroy_current=True)
    assert fresh.name == "switch-fresh"
    names = {s.name for s in (await list_sessions(sessions.api)).items}
    assert names == {"switch-other", "switch-fresh"}  # the one left was destroyed, as asked
    assert ("switch-other", "attached") in heard
