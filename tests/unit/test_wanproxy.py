"""The WAN emulator (tests/wanproxy.py): delay, order, bandwidth cap, counting, cut/restore.

Timings are asserted one way only (at least the emulated delay), except where the property is
that the proxy does not serialise (then the bound is several times the expected time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from wanproxy import Link, RequestCounter, WanProxy

ONE_WAY = 0.05
WAIT = 10.0  # bound of every wait in these tests
SLACK = 0.002  # timers may fire a hair early: the lower bounds allow for it


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def echo_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(_echo, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def _connect(proxy: WanProxy) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", proxy.port)


async def _round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
    started = time.perf_counter()
    writer.write(b"ping")
    async with asyncio.timeout(WAIT):
        assert await reader.readexactly(4) == b"ping"
    return time.perf_counter() - started


async def _until(condition: object, what: str) -> None:
    deadline = time.perf_counter() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.perf_counter() < deadline, what
        await asyncio.sleep(0.01)


async def test_a_round_trip_takes_twice_the_one_way_delay_and_a_new_connection_one_more(
    echo_port: int,
) -> None:
    async with WanProxy("127.0.0.1", echo_port, Link(one_way_s=ONE_WAY)) as proxy:
        reader, writer = await _connect(proxy)
        first = await _round_trip(reader, writer)  # the handshake's round trip, then the data's
        later = [await _round_trip(reader, writer) for _ in range(3)]
        writer.close()
    assert first >= 4 * ONE_WAY - SLACK
    assert min(later) >= 2 * ONE_WAY - SLACK


async def test_without_handshake_emulation_the_first_exchange_is_one_round_trip(
    echo_port: int,
) -> None:
    link = Link(one_way_s=ONE_WAY, handshake=False)
    async with WanProxy("127.0.0.1", echo_port, link) as proxy:
        reader, writer = await _connect(proxy)
        first = await _round_trip(reader, writer)
        writer.close()
    assert 2 * ONE_WAY - SLACK <= first < 4 * ONE_WAY + 1.0  # well under what a handshake would add


async def test_chunks_keep_their_order_and_are_not_delayed_one_after_another(
    echo_port: int,
) -> None:
    chunks = [bytes([i]) * (1 + i * 37 % 3000) for i in range(40)]
    expected = b"".join(chunks)
    async with WanProxy("127.0.0.1", echo_port, Link(one_way_s=0.1)) as proxy:
        reader, writer = await _connect(proxy)
        started = time.perf_counter()
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0.005)  # the sender's pace: separate chunks at the proxy
        async with asyncio.timeout(WAIT):
            received = await reader.readexactly(len(expected))
        elapsed = time.perf_counter() - started
        writer.close()
    assert received == expected
    assert elapsed >= 0.4 - SLACK  # handshake and data round trips: 4 x 0.1 s
    assert elapsed < 40 * 0.2 / 2  # a delay per chunk in turn would take 40 x 0.2 s


async def test_the_bandwidth_cap_holds_the_throughput_under_the_rate(echo_port: int) -> None:
    rate, size = 400_000.0, 200_000
    async with WanProxy("127.0.0.1", echo_port, Link(rate_bps=rate)) as proxy:
        reader, writer = await _connect(proxy)
        started = time.perf_counter()
        writer.write(b"x" * size)
        async with asyncio.timeout(WAIT):
            await reader.readexactly(size)
        elapsed = time.perf_counter() - started
        writer.close()
    # Each direction is capped: the echoed bytes pass the bucket twice, pipelined.
    assert size / elapsed <= rate * 1.1
    assert proxy.link.rate_bps == rate


async def test_connections_are_counted_and_live_ones_tracked(echo_port: int) -> None:
    async with WanProxy("127.0.0.1", echo_port) as proxy:
        pairs = [await _connect(proxy) for _ in range(3)]
        for pair in pairs:
            await _round_trip(*pair)
        assert proxy.connections == 3
        assert proxy.live == 3
        for _, writer in pairs:
            writer.close()
        await _until(lambda: proxy.live == 0, "closed connections still live")
        assert proxy.counts().connections == 3


async def _reset_or_closed(reader: asyncio.StreamReader) -> bool:
    try:
        async with asyncio.timeout(WAIT):
            return await reader.read(1) == b""
    except ConnectionResetError:
        return True


async def test_cut_drops_live_connections_and_refuses_new_ones_until_restored(
    echo_port: int,
) -> None:
    async with WanProxy("127.0.0.1", echo_port, Link(one_way_s=0.01)) as proxy:
        reader, writer = await _connect(proxy)
        await _round_trip(reader, writer)
        proxy.cut(refuse=True)
        assert await _reset_or_closed(reader)
        writer.close()

        reader, writer = await _connect(proxy)  # the kernel accepts; the proxy resets it
        writer.write(b"ping")
        assert await _reset_or_closed(reader)
        writer.close()
        assert proxy.refused == 1

        proxy.restore()
        reader, writer = await _connect(proxy)
        await _round_trip(reader, writer)
        writer.close()
    assert proxy.connections == 2  # the refused one is not counted as opened


async def test_cut_without_refuse_lets_the_next_connection_through(echo_port: int) -> None:
    async with WanProxy("127.0.0.1", echo_port) as proxy:
        reader, writer = await _connect(proxy)
        await _round_trip(reader, writer)
        proxy.cut()
        assert await _reset_or_closed(reader)
        writer.close()
        reader, writer = await _connect(proxy)
        await _round_trip(reader, writer)
        writer.close()
    assert (proxy.connections, proxy.refused) == (2, 0)


def test_request_lines_are_found_across_bodies_and_split_reads() -> None:
    stream = (
        b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /b HTTP/1.1\r\nContent-Length: 24\r\n\r\nGET /not-a-request HTTP/"
        b"PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nGET /\r\n10;ext=1\r\n HTTP/1.1\r\n\r\n\r\nx\r\n0\r\n\r\n"
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
        b"GET /after-upgrade HTTP/1.1\r\n\r\n"
    )
    for step in (1, 7, len(stream)):
        seen: list[tuple[str, str, bool, int]] = []
        counter = RequestCounter(lambda m, t, ws, end, seen=seen: seen.append((m, t, ws, end)))
        for i in range(0, len(stream), step):
            counter.feed(stream[i : i + step])
        ends = [
            stream.index(part) + len(part)
            for part in (b"h\r\n\r\n", b"request HTTP/", b"ked\r\n\r\n", b"Upgrade\r\n\r\n")
        ]
        assert seen == [
            ("GET", "/a?x=1", False, ends[0]),
            ("POST", "/b", False, ends[1]),
            ("PUT", "/c", False, ends[2]),
            ("GET", "/ws", True, ends[3]),
        ], step


async def _chunks() -> AsyncIterator[bytes]:
    for part in (b"GET / HTTP/1.1\r\n\r\n", b"more"):
        yield part


async def test_http_requests_through_the_proxy_are_counted(tmp_path: object) -> None:
    async def hello(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(text="ok")

    async def socket(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data)
        return ws

    app = web.Application()
    app.router.add_route("*", "/hello", hello)
    app.router.add_get("/ws", socket)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        async with WanProxy("127.0.0.1", port) as proxy, aiohttp.ClientSession() as http:
            base = proxy.address
            for _ in range(2):
                async with http.get(f"{base}/hello") as response:
                    assert await response.text() == "ok"
            async with http.post(f"{base}/hello", data=b"GET / HTTP/1.1\r\n\r\n" * 100) as r:
                assert r.status == 200
            async with http.post(f"{base}/hello", data=_chunks()) as r:
                assert r.status == 200
            async with http.ws_connect(f"{base}/ws") as ws:
                await ws.send_str("GET / HTTP/1.1\r\n\r\n")
                assert (await ws.receive()).data == "GET / HTTP/1.1\r\n\r\n"
            seen = [(r.method, r.target, r.websocket) for r in proxy.requests]
    finally:
        await runner.cleanup()
    assert seen == [
        ("GET", "/hello", False),
        ("GET", "/hello", False),
        ("POST", "/hello", False),
        ("POST", "/hello", False),
        ("GET", "/ws", True),
    ]
    assert proxy.connections == 1  # one kept-alive connection; the upgrade took it over


async def test_held_answers_reach_the_target_and_come_back_only_when_released() -> None:
    hits = 0

    async def hello(request: web.Request) -> web.StreamResponse:
        nonlocal hits
        hits += 1
        return web.Response(text=f"answer {hits}")

    app = web.Application()
    app.router.add_get("/hello", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with WanProxy("127.0.0.1", port) as proxy, aiohttp.ClientSession() as http:

            def hold_the_second(request: object) -> None:
                if len(proxy.requests) == 2:
                    proxy.hold_answers()

            proxy.on_request = hold_the_second
            async with http.get(f"{proxy.address}/hello") as response:
                assert await response.text() == "answer 1"
            before = proxy.bytes_down
            second = asyncio.ensure_future(http.get(f"{proxy.address}/hello"))
            await _until(lambda: proxy.bytes_down > before, "the answer reached the proxy")
            await asyncio.sleep(0)
            assert not second.done()  # and it stays there
            proxy.release_answers()
            async with asyncio.timeout(WAIT):
                response = await second
            assert await response.text() == "answer 2"
            response.release()
    finally:
        await runner.cleanup()


async def test_the_targets_own_time_on_a_request_leaves_the_link_out() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    link = Link(one_way_s=0.2)
    try:
        async with (
            WanProxy("127.0.0.1", runner.addresses[0][1], link) as proxy,
            aiohttp.ClientSession() as http,
        ):
            started = time.perf_counter()
            async with http.get(f"{proxy.address}/slow") as response:
                assert await response.text() == "ok"
            elapsed = time.perf_counter() - started
    finally:
        await runner.cleanup()
    [request] = proxy.requests
    assert request.server_s is not None
    assert request.server_s >= 0.3 - SLACK
    assert elapsed - request.server_s >= 2 * link.rtt_s - SLACK  # the handshake's and the request's


async def test_each_answer_and_both_directions_are_counted_in_bytes() -> None:
    sizes = {"/small": 10, "/big": 200_000}

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * sizes[request.path])

    app = web.Application()
    for path in sizes:
        app.router.add_post(path, answer)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        async with (
            WanProxy("127.0.0.1", runner.addresses[0][1], Link()) as proxy,
            aiohttp.ClientSession() as http,
        ):
            for path in ("/small", "/big"):  # one connection, one request after the other
                async with http.post(f"{proxy.address}{path}", data=b"y" * 1000) as response:
                    assert len(await response.read()) == sizes[path]
    finally:
        await runner.cleanup()
    small, big = proxy.requests
    assert sizes["/small"] < small.answer_bytes < sizes["/small"] + 500  # the body and a head
    assert sizes["/big"] < big.answer_bytes < sizes["/big"] + 500
    assert big.answer_done_at is not None
    assert big.answered_at is not None
    assert big.answer_done_at >= big.answered_at
    assert proxy.bytes_down == small.answer_bytes + big.answer_bytes
    assert 2000 < proxy.bytes_up < 3000


async def test_parallel_connections_share_the_bandwidth_cap(echo_port: int) -> None:
    """The cap is the link's: two connections sending at once get half of it each."""
    rate, size = 400_000.0, 100_000
    async with WanProxy("127.0.0.1", echo_port, Link(rate_bps=rate)) as proxy:
        pairs = [await _connect(proxy) for _ in range(2)]
        started = time.perf_counter()
        for _, writer in pairs:
            writer.write(b"x" * size)
        async with asyncio.timeout(WAIT):
            for reader, _ in pairs:
                await reader.readexactly(size)
        elapsed = time.perf_counter() - started
        for _, writer in pairs:
            writer.close()
    assert 2 * size / elapsed <= rate * 1.1
