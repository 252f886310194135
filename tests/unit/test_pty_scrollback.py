"""A terminal's scrollback: what a re-attaching viewer missed, within the bytes kept."""

from __future__ import annotations

from bai_bridge.local.pty_output import Scrollback


def test_the_output_after_an_offset_is_replayed_from_what_is_kept() -> None:
    back = Scrollback(limit=8)
    back.add(b"abcd")
    assert back.since(-1) == (4, b"")  # none: where the output stands
    assert back.since(1) == (1, b"bcd")
    back.add(b"efghij")  # 10 written, the last 8 kept
    assert back.total == 10
    assert back.since(4) == (4, b"efghij")
    assert back.since(0) == (2, b"cdefghij")  # the first two are no longer kept
    assert back.since(10) == (10, b"")


def test_an_offset_past_the_end_is_an_earlier_terminal_s_and_gets_all() -> None:
    back = Scrollback()
    back.add(b"new shell$ ")
    assert back.since(5000) == (0, b"new shell$ ")
