"""The event-stream parser against the WHATWG rules the manager's stream relies on."""

from bai_bridge.api.sse import SSEMessage, SSEParser


def feed_all(parser: SSEParser, *chunks: bytes | str) -> list[SSEMessage]:
    return [m for chunk in chunks for m in parser.feed(chunk)]


def test_event_and_json_data_with_crlf() -> None:
    messages = feed_all(SSEParser(), b'event: session_started\r\ndata: {"a": 1}\r\n\r\n')
    assert messages == [SSEMessage("session_started", '{"a": 1}')]


def test_multiline_data_joined_with_newlines() -> None:
    messages = feed_all(SSEParser(), "data: first\ndata:second\ndata:  third\n\n")
    assert messages == [SSEMessage("message", "first\nsecond\n third")]


def test_comments_are_ignored_and_pings_dispatch_nothing() -> None:
    messages = feed_all(SSEParser(), ": ping\n\n:another\ndata: x\n: mid\n\n")
    assert messages == [SSEMessage("message", "x")]


def test_retry_and_id_fields() -> None:
    parser = SSEParser()
    messages = feed_all(parser, "retry: 1500\nid: 7\ndata: a\n\nretry: soon\ndata: b\n\n")
    assert messages == [SSEMessage("message", "a", "7", 1500), SSEMessage("message", "b", "7")]
    assert parser.retry == 1500
    assert parser.last_event_id == "7"


def test_id_with_nul_is_ignored_and_empty_id_resets() -> None:
    parser = SSEParser()
    feed_all(parser, "id: 1\ndata: a\n\nid: bad\0id\ndata: b\n\n")
    assert parser.last_event_id == "1"
    assert feed_all(parser, "id\ndata: c\n\n") == [SSEMessage("message", "c", None)]


def test_chunks_split_anywhere_including_crlf_and_utf8() -> None:
    raw = 'event: e\r\ndata: "héllo"\r\n\r\n'.encode()
    for cut in range(1, len(raw)):
        parser = SSEParser()
        assert feed_all(parser, raw[:cut], raw[cut:]) == [SSEMessage("e", '"héllo"')]


def test_bare_cr_line_ends_and_field_without_colon() -> None:
    messages = feed_all(SSEParser(), "data\rdata: x\r\r")
    assert messages == [SSEMessage("message", "\nx")]


def test_event_without_data_is_not_dispatched_and_name_resets() -> None:
    messages = feed_all(SSEParser(), "event: lonely\n\ndata: y\n\n")
    assert messages == [SSEMessage("message", "y")]


def test_end_of_stream_discards_unfinished_message() -> None:
    parser = SSEParser()
    assert feed_all(parser, "id: 3\ndata: complete\n\ndata: half") == [
        SSEMessage("message", "complete", "3")
    ]
    parser.end_of_stream()
    assert feed_all(parser, "\ndata: next\n\n") == [SSEMessage("message", "next", "3")]
