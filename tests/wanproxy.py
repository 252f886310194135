"""A WAN emulator for tests and benchmarks: a TCP proxy on 127.0.0.1 that delays, caps and
cuts what passes through it (`tc netem` is not available in these kernels).

Each direction of each connection is a delay line: a chunk is released at its arrival time
plus the one-way delay, in order, so a stream keeps its throughput (no sleep per chunk
serialising it); an optional cap on each direction's bytes per second is shared by every
connection, as a real link's bandwidth is (parallel connections share it, not multiply it). A new
connection pays the TCP handshake's round trip before its first byte reaches the target, as it
would over a real link (the proxy's own accept completes at once). The proxy counts the
connections opened, the bytes each way and, where the client speaks plain HTTP/1.x, the
requests they carry (method and target of each, a WebSocket upgrade marked), so a benchmark
can say how many requests, connections and bytes an action costs. ``cut()`` resets every live
connection, and with ``refuse=True`` new ones too until ``restore()``: a dropped network for
reconnection tests.

    async with WanProxy("127.0.0.1", target_port, Link(one_way_s=0.025)) as proxy:
        url = f"http://127.0.0.1:{proxy.port}"
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import socket
import struct
import time
from collections.abc import Callable
from types import TracebackType

import attrs

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
BUCKET_PIECE = 16 * 1024  # bytes released at once under a cap: bursts stay short
DEFAULT_IN_FLIGHT = 16 * 1024 * 1024  # bytes held per direction before the sender is paused
HEADER_LIMIT = 64 * 1024  # an HTTP head longer than this stops request counting on its link


@attrs.define
class Link:
    """The emulated path's properties; changes apply to chunks that arrive afterwards."""

    one_way_s: float = 0.0  # delay of each direction: the round trip is twice this
    rate_bps: float | None = None  # bytes per second per direction, all connections; None: none
    handshake: bool = True  # a new connection waits one round trip before its first byte

    @property
    def rtt_s(self) -> float:
        return 2 * self.one_way_s


@attrs.define
class SeenRequest:
    """An HTTP request the proxy saw going to the target (times: time.perf_counter())."""

    connection: int  # the connection's number, from 1 in order of opening
    method: str
    target: str
    websocket: bool  # an Upgrade request: what follows on this connection is not HTTP
    at: float  # when its head had arrived at the proxy
    end_offset: int  # where it ends in the connection's stream (a chunked body: its head)
    forwarded_at: float | None = None  # when its last byte was written to the target
    answered_at: float | None = None  # when the target's first answering byte arrived
    answer_bytes: int = 0  # of its answer (of everything after it, on a WebSocket)
    answer_done_at: float | None = None  # when the last of those bytes arrived from the target

    @property
    def server_s(self) -> float | None:
        """The target's own time on it: the link's delay and the client's side left out."""
        if self.forwarded_at is None or self.answered_at is None:
            return None
        return self.answered_at - self.forwarded_at


@attrs.frozen
class Counts:
    """A snapshot of the proxy's counters; subtract two to get what an action cost."""

    connections: int
    requests: int
    refused: int

    def __sub__(self, other: Counts) -> Counts:
        return Counts(
            self.connections - other.connections,
            self.requests - other.requests,
            self.refused - other.refused,
        )


class RequestCounter:
    """Follows the client's side of an HTTP/1.x connection and records each request line.

    Bodies are skipped by Content-Length or chunked framing; after an Upgrade request (a
    WebSocket) or anything unparseable, the rest of the connection is not looked at.
    """

    def __init__(self, on_request: Callable[[str, str, bool, int], None]) -> None:
        """``on_request(method, target, websocket, end_offset)`` is called for each request."""
        self._on_request = on_request
        self._consumed = 0  # stream offset of the buffer's start
        self._buffer = bytearray()
        self._body_left = 0  # bytes of a Content-Length body still to skip
        self._chunked = False  # in a chunked body
        self._opaque = False

    def feed(self, data: bytes) -> None:
        if self._opaque:
            return
        self._buffer += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Consume one piece of the buffer; False when more bytes are needed."""
        if self._body_left:
            taken = min(self._body_left, len(self._buffer))
            self._take(taken)
            self._body_left -= taken
            return bool(self._buffer)
        if self._chunked:
            return self._chunk()
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > HEADER_LIMIT:
                self._stop()
            return False
        head = bytes(self._buffer[:end]).decode("latin-1")
        self._take(end + 4)
        self._head(head)
        return not self._opaque and bool(self._buffer)

    def _head(self, head: str) -> None:
        request_line, *header_lines = head.split("\r\n")
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._stop()
            return
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        upgrade = "upgrade" in headers
        if upgrade:
            self._stop()
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._chunked = True
        else:
            try:
                self._body_left = int(headers.get("content-length", "0"))
            except ValueError:
                self._stop()
        self._on_request(parts[0], parts[1], upgrade, self._consumed + self._body_left)

    def _chunk(self) -> bool:
        """One chunk of a chunked body: its size line, data and CRLF; the last one's trailers."""
        line_end = self._buffer.find(b"\r\n")
        if line_end < 0:
            return False
        try:
            size = int(bytes(self._buffer[:line_end]).split(b";")[0], 16)
        except ValueError:
            self._stop()
            return False
        if size == 0:  # the last chunk: trailers (usually none) end with an empty line
            end = self._buffer.find(b"\r\n\r\n", line_end)
            if end < 0:
                return False
            self._take(end + 4)
            self._chunked = False
            return bool(self._buffer)
        whole = line_end + 2 + size + 2
        if len(self._buffer) < whole:
            return False
        self._take(whole)
        return bool(self._buffer)

    def _take(self, size: int) -> None:
        del self._buffer[:size]
        self._consumed += size

    def _stop(self) -> None:
        self._opaque = True
        self._buffer.clear()


class Bucket:
    """One direction's bandwidth, shared by the connections: each piece reserves its slot on
    one timeline (a burst of `BUCKET_PIECE` allowed), so parallel senders share the rate
    and a late wake-up costs no bandwidth."""

    def __init__(self, link: Link) -> None:
        self._link = link
        self._free_at = 0.0  # when the bytes reserved so far have left

    async def take(self, size: int) -> None:
        rate = self._link.rate_bps
        if rate is None:
            return
        now = time.perf_counter()
        self._free_at = max(self._free_at, now - BUCKET_PIECE / rate) + size / rate
        if (wait := self._free_at - now) > 0:
            await asyncio.sleep(wait)


class DelayLine:
    """One direction of one connection: chunks in, released in order at arrival + delay, at
    no more than the link's rate."""

    def __init__(
        self, link: Link, writer: asyncio.StreamWriter, *, opens_at: float, in_flight: int,
        bucket: Bucket, on_sent: Callable[[int], None] | None = None,
        gate: asyncio.Event | None = None,
    ) -> None:  # fmt: skip
        self._link = link
        self._gate = gate  # while cleared, nothing more leaves (what is held stays queued)
        self._bucket = bucket
        self._writer = writer
        self._on_sent = on_sent  # told the count of bytes written so far, after each write
        self._sent = 0
        self._opens_at = opens_at  # no byte leaves before the handshake is done
        self._queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()
        self._held = 0
        self._in_flight = in_flight
        self._room = asyncio.Event()
        self._room.set()

    async def put(self, data: bytes) -> None:
        """Queue a chunk; waits while too much is held (the sender sees backpressure)."""
        arrived = time.perf_counter()
        self._held += len(data)
        if self._held >= self._in_flight:
            self._room.clear()
        self._queue.put_nowait((max(arrived, self._opens_at) + self._link.one_way_s, data))
        await self._room.wait()

    def close(self) -> None:
        """No more chunks: the far side is half-closed once everything queued is out."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        while (item := await self._queue.get()) is not None:
            due, data = item
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            if self._gate is not None:
                await self._gate.wait()
            await self._send(data)
            self._sent += len(data)
            if self._on_sent is not None:
                self._on_sent(self._sent)
            self._held -= len(data)
            if self._held < self._in_flight:
                self._room.set()
        if self._writer.can_write_eof():
            self._writer.write_eof()

    async def _send(self, data: bytes) -> None:
        if self._link.rate_bps is None:
            self._writer.write(data)
            await self._writer.drain()
            return
        view = memoryview(data)
        for start in range(0, len(data), BUCKET_PIECE):
            piece = view[start : start + BUCKET_PIECE]
            await self._bucket.take(len(piece))
            self._writer.write(piece)
            await self._writer.drain()


class RequestTiming:
    """When each request of a connection reached the target and its answer began.

    HTTP/1.1 clients such as aiohttp send a connection's next request only after the last
    answer has been read (no pipelining), so the target's first bytes after a request was
    forwarded begin that request's answer.
    """

    def __init__(self) -> None:
        self.unsent: collections.deque[SeenRequest] = collections.deque()
        self._waiting: collections.deque[SeenRequest] = collections.deque()
        self._answering: SeenRequest | None = None

    def forwarded(self, sent: int) -> None:
        while self.unsent and self.unsent[0].end_offset <= sent:
            request = self.unsent.popleft()
            request.forwarded_at = time.perf_counter()
            self._waiting.append(request)

    def answered(self, data: bytes) -> None:
        now = time.perf_counter()
        if self._waiting:
            self._answering = self._waiting.popleft()
            self._answering.answered_at = now
        if self._answering is not None:
            self._answering.answer_bytes += len(data)
            self._answering.answer_done_at = now


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close abruptly: SO_LINGER 0 makes the close send a RST instead of a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class WanProxy:
    """The proxy; see the module's docstring. Use as an async context manager."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        link: Link | None = None,
        *,
        in_flight: int = DEFAULT_IN_FLIGHT,
    ) -> None:
        self.target = (target_host, target_port)
        self.link = link or Link()
        self.in_flight = in_flight
        self.port = 0
        self.connections = 0  # opened through the proxy (refused ones not counted)
        self.refused = 0  # turned away while cut with refuse=True
        self.requests: list[SeenRequest] = []
        self.bytes_up = 0  # read from clients, bound for the target
        self.bytes_down = 0  # read from the target, bound for clients
        # told of each request as it is seen, before it is forwarded: a test can act at an
        # exact point of a client's work (hold_answers() there, say)
        self.on_request: Callable[[SeenRequest], None] | None = None
        self._answers = asyncio.Event()
        self._answers.set()
        self._refusing = False
        self._closing = False
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._live: dict[int, tuple[asyncio.StreamWriter, asyncio.StreamWriter | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._up = Bucket(self.link)  # the link's bandwidth toward the target
        self._down = Bucket(self.link)  # and toward the clients

    @property
    def address(self) -> str:
        """``http://127.0.0.1:PORT``: where clients connect instead of the target."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def live(self) -> int:
        return len(self._live)

    def counts(self) -> Counts:
        return Counts(self.connections, len(self.requests), self.refused)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.close()
        for client, upstream in list(self._live.values()):
            for writer in (client, upstream):
                if writer is not None:
                    writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def __aenter__(self) -> WanProxy:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def cut(self, *, refuse: bool = False) -> None:
        """Reset every live connection now; with ``refuse``, reset new ones until restore()."""
        self._refusing = self._refusing or refuse
        for client, upstream in list(self._live.values()):
            _reset(client)
            if upstream is not None:
                _reset(upstream)

    def restore(self) -> None:
        self._refusing = False

    def hold_answers(self) -> None:
        """Deliver nothing more to the clients until release_answers(): requests still
        reach the target, but no client learns of an answer (a stalled path)."""
        self._answers.clear()

    def release_answers(self) -> None:
        self._answers.set()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            self.refused += 1
            _reset(writer)
            return
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        number = next(self._numbers)
        self.connections += 1
        self._live[number] = (writer, None)
        try:
            await self._relay(number, reader, writer)
        except asyncio.CancelledError:
            if not self._closing:  # our own close() ends the relays: nothing to report
                raise
        finally:
            client, upstream = self._live.pop(number, (writer, None))
            for end in (client, upstream):
                if end is not None:
                    end.transport.abort()
            self._tasks.discard(task)

    async def _relay(
        self, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            await self._relay_both_ways(number, reader, writer)
        except* OSError as errors:  # a reset or refused end (ConnectionError is an OSError)
            log.debug("connection %d ended: %r", number, errors.exceptions)

    async def _relay_both_ways(
        self, number: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        accepted = time.perf_counter()
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        if number not in self._live:  # cut while connecting
            _reset(up_writer)
            return
        self._live[number] = (writer, up_writer)
        handshake = self.link.rtt_s if self.link.handshake else 0.0
        timing = RequestTiming()

        def seen(method: str, target: str, websocket: bool, end_offset: int) -> None:
            request = SeenRequest(
                number, method, target, websocket, time.perf_counter(), end_offset
            )
            self.requests.append(request)
            timing.unsent.append(request)
            if self.on_request is not None:
                self.on_request(request)

        to_target = DelayLine(
            self.link, up_writer, opens_at=accepted + handshake, in_flight=self.in_flight,
            bucket=self._up, on_sent=timing.forwarded,
        )  # fmt: skip
        to_client = DelayLine(
            self.link, writer, opens_at=accepted, in_flight=self.in_flight, bucket=self._down,
            gate=self._answers,
        )  # fmt: skip
        counter = RequestCounter(seen)

        def up(data: bytes) -> None:
            self.bytes_up += len(data)
            counter.feed(data)

        def down(data: bytes) -> None:
            self.bytes_down += len(data)
            timing.answered(data)

        async with asyncio.TaskGroup() as group:
            group.create_task(self._pump(reader, to_target, up))
            group.create_task(self._pump(up_reader, to_client, down))
            group.create_task(to_target.run())
            group.create_task(to_client.run())

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader, line: DelayLine, observe: Callable[[bytes], None] | None
    ) -> None:
        try:
            while data := await reader.read(READ_SIZE):
                if observe is not None:
                    observe(data)
                await line.put(data)
        finally:
            line.close()
