"""Kernel messages read straight off the socket: the same message jupyter_client would give
(dates left as text), and nothing from a sender without the connection's key."""

from __future__ import annotations

import pytest
from jupyter_client.session import Session

from bai_bridge.local.kernel import parse_message


def wire(session: Session, msg_type: str, content: dict[str, object]) -> list[bytes]:
    parent = session.msg("execute_request", {"code": "1+1"})
    message = session.msg(msg_type, content, parent=parent)
    return session.serialize(message, ident=[b"kernel"])


def test_a_signed_message_parses_like_jupyter_client() -> None:
    session = Session(key=b"connection-key")
    frames = wire(session, "stream", {"name": "stdout", "text": "hi\n"})
    ours = parse_message(session, frames)
    _, parts = session.feed_identities(frames)
    theirs = session.deserialize(parts)
    assert ours["content"] == theirs["content"] == {"name": "stdout", "text": "hi\n"}
    assert ours["msg_type"] == theirs["msg_type"] == "stream"
    assert ours["parent_header"]["msg_id"] == theirs["parent_header"]["msg_id"]
    assert ours["header"]["msg_id"] == theirs["header"]["msg_id"]


def test_a_message_signed_with_another_key_is_refused() -> None:
    frames = wire(Session(key=b"someone-else"), "status", {"execution_state": "idle"})
    with pytest.raises(ValueError, match="signature"):
        parse_message(Session(key=b"connection-key"), frames)


def test_too_few_frames_are_refused() -> None:
    session = Session(key=b"connection-key")
    frames = wire(session, "status", {"execution_state": "idle"})
    with pytest.raises(ValueError, match="too few"):
        parse_message(session, frames[:4])
