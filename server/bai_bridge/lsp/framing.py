"""`serve`: LSP frames read off a stream so that no bad input ends the connection.

pygls's read loop died on a header line longer than the stream's limit (16 MiB on stdin:
``ValueError: Separator is not found``) and waited forever on a frame without a usable
Content-Length. Here a framing error is logged and reading goes on: an over-long header line
is skipped, a frame without a valid Content-Length is dropped up to its empty line, and
a Content-Length is found even at the end of a line the lost frame's body ran into.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from concurrent.futures import Executor
from typing import BinaryIO, Protocol

from .jsonrpc import BridgeProtocol

__all__ = ["LineTooLong", "MessageReader", "StreamReader", "ThreadReader", "serve"]

log = logging.getLogger(__name__)

MAX_HEADER_LINE = 1 << 16  # a header line is a few dozen bytes; longer ones are skipped
MAX_BODY = 1 << 30  # a message this large is skipped, not held in memory
_SKIP_CHUNK = 1 << 20
_CONTENT_LENGTH = re.compile(rb"content-length:[ \t]*(\d{1,18})[ \t]*\r?\n?$", re.IGNORECASE)


class LineTooLong(Exception):
    """A header line over `MAX_HEADER_LINE`; it has been skipped."""


class MessageReader(Protocol):
    async def header_line(self) -> bytes:
        """The next line, b"" at the end of input; raises `LineTooLong` (line skipped)."""
        ...

    async def body(self, size: int) -> bytes:
        """``size`` bytes, or fewer at the end of input."""
        ...


class StreamReader:
    """Frames from an asyncio stream (a pipe, a socket)."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.stream = stream

    async def header_line(self) -> bytes:
        too_long = False
        while True:
            try:
                line = await self.stream.readuntil(b"\n")
            except asyncio.IncompleteReadError as e:
                return e.partial
            except asyncio.LimitOverrunError as e:  # drop what is buffered, then look again
                await self.stream.readexactly(max(e.consumed, 1))
                too_long = True
                continue
            if too_long or len(line) > MAX_HEADER_LINE:
                raise LineTooLong
            return line

    async def body(self, size: int) -> bytes:
        try:
            return await self.stream.readexactly(size)
        except asyncio.IncompleteReadError as e:
            return e.partial


class ThreadReader:
    """Frames from a blocking file (stdin that is a file or a terminal), read in threads."""

    def __init__(self, file: BinaryIO, executor: Executor | None) -> None:
        self.file = file
        self.executor = executor

    async def header_line(self) -> bytes:
        loop = asyncio.get_running_loop()
        line: bytes = await loop.run_in_executor(
            self.executor, self.file.readline, MAX_HEADER_LINE + 1
        )
        if len(line) <= MAX_HEADER_LINE:
            return line
        while line and not line.endswith(b"\n"):  # the rest of it, a bounded piece at a time
            line = await loop.run_in_executor(self.executor, self.file.readline, _SKIP_CHUNK)
        raise LineTooLong

    async def body(self, size: int) -> bytes:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self.file.read, size)


async def serve(reader: MessageReader, protocol: BridgeProtocol, stop: threading.Event) -> None:
    """Read messages until the end of input (or ``stop``); bad frames are logged and skipped."""
    while not stop.is_set():
        size = await _headers(reader)
        if size is None:
            return
        if size > MAX_BODY:
            log.warning("skipping a message of %d bytes (over %d)", size, MAX_BODY)
            while size > 0:
                skipped = await reader.body(min(size, _SKIP_CHUNK))
                if not skipped:
                    return
                size -= len(skipped)
            continue
        body = await reader.body(size)
        if len(body) < size:
            return
        try:
            protocol.receive(body)
        except Exception:  # a bug of ours in one message must not end the connection
            log.exception("unable to handle a message")


async def _headers(reader: MessageReader) -> int | None:
    """The next message's Content-Length (None: the input ended); frames without a valid
    one are skipped up to their empty line."""
    size: int | None = None
    valid = True
    while True:
        try:
            line = await reader.header_line()
        except LineTooLong:
            log.warning("skipping a header line over %d bytes", MAX_HEADER_LINE)
            continue  # an unknown header, or a mangled Content-Length (then not valid)
        if not line:
            return None
        if line.strip():
            # Searched at the end of the line, not matched at its start: after a lost frame,
            # its body (JSON, one line) runs into the next Content-Length, which is found.
            if found := _CONTENT_LENGTH.search(line):
                size, valid = int(found[1]), True
            elif line.lstrip().lower().startswith(b"content-length"):
                valid = False
            continue
        if size is not None and valid:
            return size
        log.warning("skipping a message without a valid Content-Length header")
        size, valid = None, True
