"""An incremental Server-Sent Events parser (the WHATWG event-stream rules).

Feed it chunks as they arrive; it returns the complete messages. Handles ``\\r\\n``, ``\\r``
and ``\\n`` line ends (also split across chunks), multi-line ``data``, ``:`` comments,
``event``, ``id`` (kept across messages, as a reconnect's ``Last-Event-ID``) and ``retry``.
"""

from __future__ import annotations

import codecs

import attrs

__all__ = ["SSEMessage", "SSEParser"]


@attrs.frozen
class SSEMessage:
    event: str
    data: str
    id: str | None = None
    retry: int | None = None


class SSEParser:
    """Turns event-stream bytes into `SSEMessage` objects."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._after_cr = False
        self._reset()
        self.last_event_id: str | None = None
        self.retry: int | None = None  # milliseconds, from the latest valid ``retry:``

    def _reset(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._retry: int | None = None

    def feed(self, chunk: bytes | str) -> list[SSEMessage]:
        text = self._decoder.decode(chunk) if isinstance(chunk, bytes) else chunk
        if self._after_cr and text.startswith("\n"):
            text = text[1:]  # the \n of a \r\n split across chunks
        self._after_cr = text.endswith("\r")
        lines = (self._pending + text).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        self._pending = lines.pop()
        messages = []
        for line in lines:
            message = self._line(line)
            if message is not None:
                messages.append(message)
        return messages

    def _line(self, line: str) -> SSEMessage | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._event = value
        elif field == "id" and "\0" not in value:
            self.last_event_id = value or None
        elif field == "retry" and value.isascii() and value.isdigit():
            self.retry = self._retry = int(value)
        return None

    def _dispatch(self) -> SSEMessage | None:
        event, data, retry = self._event, self._data, self._retry
        self._reset()
        if not data:
            return None
        return SSEMessage(event or "message", "\n".join(data), self.last_event_id, retry)

    def end_of_stream(self) -> None:
        """The connection ended: an unfinished message is discarded (ids and retry stay)."""
        self._decoder.reset()
        self._pending = ""
        self._after_cr = False
        self._reset()
