"""Terminal frames: output arrives as JSON in TEXT frames (managers to 24.09) or BINARY ones."""

import base64
import json

from bai_bridge.api.pty import decode_pty_frame


def out(data: bytes) -> str:
    return json.dumps({"type": "out", "data": base64.b64encode(data).decode()})


def test_text_and_binary_json_frames_carry_the_same_output() -> None:
    raw = b"\x1b[1mbold\x1b[0m \xff\xfe"
    assert decode_pty_frame(out(raw)) == raw
    assert decode_pty_frame(out(raw).encode()) == raw


def test_raw_binary_frame_is_output_and_other_frames_are_not() -> None:
    assert decode_pty_frame(b"\x00raw bytes") == b"\x00raw bytes"
    assert decode_pty_frame("not json") is None
    assert decode_pty_frame(json.dumps({"type": "pong"})) is None
    assert decode_pty_frame(json.dumps([1, 2])) is None


def test_error_frame_is_shown_in_the_terminal() -> None:
    shown = decode_pty_frame(json.dumps({"type": "error", "data": "gone"}))
    assert shown is not None
    assert b"gone" in shown
