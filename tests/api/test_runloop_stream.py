"""`Kernel.run` over the execute WebSocket (protocol doc §5.3), and the HTTP loop it falls
back to when a server refuses the socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from api_support import Embedded

from bai_bridge.api import APIConfig, APISession, BackendClientError, BatchOptions, runloop
from bai_bridge.api import kernel as kernel_module
from bai_bridge.api.errors import BackendAPIError, BackendInvalidParamsError, BackendStreamBroken
from bai_bridge.api.kernel import Kernel
from bai_bridge.api.models import ExecutionResult, Stdout
from bai_bridge.lsp.messages import describe_error

TinyServer = Callable[[web.Application], Awaitable[APIConfig]]
WAIT = 30.0


@pytest.fixture
async def kernel(embedded: Embedded) -> AsyncIterator[Kernel]:
    async with APISession(embedded.config) as api:
        kernel = await api.Kernel.get_or_create("python", client_token="stream-runs")
        try:
            yield kernel
        finally:
            await kernel.destroy()


def stdout(results: list[ExecutionResult]) -> str:
    return "".join(i.text for r in results for i in r.console if isinstance(i, Stdout))


def execute_requests(embedded: Embedded) -> list[tuple[str, str]]:
    """(method, path) of every execute-like request the server saw."""
    return [
        (r.method, r.path)
        for r in embedded.recorder.requests
        if r.path.endswith("/execute") or (r.method == "POST" and r.path.count("/") == 2)
    ]


async def test_a_run_goes_over_the_websocket_with_output_while_it_runs(
    kernel: Kernel, embedded: Embedded, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    code = (
        "import os, time\nprint('first', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.01)\nprint('second')"
    )
    results: list[ExecutionResult] = []
    async with asyncio.timeout(WAIT):
        async for result in kernel.run(code, stream=True):
            results.append(result)
            if "first" in stdout([result]):
                assert not result.is_final  # the output came while the run went on
                gate.touch()
    assert stdout(results) == "first\nsecond\n"
    assert results[-1].status == "finished"
    assert results[-1].exit_code == 0
    assert execute_requests(embedded) == [("GET", f"/stream/session/{kernel.session_id}/execute")]
    assert kernel.execute_stream_supported is not False


async def test_input_is_answered_over_the_websocket(kernel: Kernel) -> None:
    prompts: list[tuple[str, bool]] = []

    async def answer(prompt: str, password: bool) -> str:
        prompts.append((prompt, password))
        return "Ada"

    async with asyncio.timeout(WAIT):
        results = [
            r async for r in kernel.run("print(input('Name? ') * 2)", on_input=answer, stream=True)
        ]
    assert prompts == [("Name? ", False)]
    assert stdout(results).endswith("AdaAda\n")


async def test_cancelling_closes_the_socket_and_the_server_interrupts(
    kernel: Kernel, embedded: Embedded
) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        code = "import time\nprint('start', flush=True)\ntime.sleep(60)"
        async for result in kernel.run(code, stream=True):
            if "start" in stdout([result]):
                started.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(WAIT):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(20):  # well before the 60 s sleep could have ended
        results = [r async for r in kernel.run("print('after')", stream=True)]
    assert stdout(results) == "after\n"
    assert not any(r.path.endswith("/interrupt") for r in embedded.recorder.requests)


def http_only(seen: list[dict[str, Any]]) -> web.Application:
    """A server with the HTTP execute route and no execute WebSocket (answers 404)."""

    async def execute(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        if body["mode"] == "query":
            result = {"runId": "r", "status": "continued", "console": [["stdout", "a"]]}
        else:
            result = {"runId": "r", "status": "finished", "exitCode": 0, "console": []}
        return web.json_response({"result": result})

    app = web.Application()
    app.router.add_post("/session/plain", execute)
    return app


async def test_a_server_without_the_websocket_gets_the_http_loop(
    tiny_server: TinyServer,
) -> None:
    seen: list[dict[str, Any]] = []
    async with APISession(await tiny_server(http_only(seen))) as api:
        kernel = api.Kernel("plain")
        first = [r async for r in kernel.run("x", stream=True)]
        assert kernel.execute_stream_supported is False
        second = [r async for r in kernel.run("y", stream=True)]
    for results in (first, second):
        assert [r.status for r in results] == ["continued", "finished"]
    assert [s["mode"] for s in seen] == ["query", "continue", "query", "continue"]


def closing_early() -> web.Application:
    """An execute WebSocket that sends one frame and closes before ``finished``."""

    async def stream(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.receive()  # the start frame
        await ws.send_json({"status": "continued", "console": [["stdout", "a"]]})
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/stream/session/cut/execute", stream)
    return app


async def test_a_socket_closed_mid_run_is_a_client_error(tiny_server: TinyServer) -> None:
    results: list[ExecutionResult] = []

    async def follow(kernel: Kernel) -> None:
        async with asyncio.timeout(WAIT):
            async for result in kernel.run("x", stream=True):
                results.append(result)

    async with APISession(await tiny_server(closing_early())) as api:
        with pytest.raises(BackendClientError, match="closed before the run finished"):
            await follow(api.Kernel("cut"))
    assert stdout(results) == "a"


async def test_a_batch_run_over_the_websocket_reports_each_step(
    kernel: Kernel, embedded: Embedded
) -> None:
    opts = BatchOptions(build="echo built", exec="echo hello; exit 3")
    async with asyncio.timeout(WAIT):
        results = [r async for r in kernel.run("", mode="batch", opts=opts, stream=True)]
    steps = [r.status for r in results if r.status not in ("continued", "waiting-input")]
    assert steps == ["clean-finished", "build-finished", "finished"]
    assert results[-1].exit_code == 3
    assert "built" in stdout(results)
    assert "hello" in stdout(results)
    assert all(method == "GET" for method, _ in execute_requests(embedded))


async def test_without_stream_a_run_keeps_to_the_http_loop(
    kernel: Kernel, embedded: Embedded
) -> None:
    async with asyncio.timeout(WAIT):
        results = [r async for r in kernel.run("print(6 * 7)")]
    assert stdout(results) == "42\n"
    assert results[-1].run_id  # the HTTP answers carry the run ID; the socket's do not
    assert execute_requests(embedded) == [("POST", f"/session/{kernel.kernel_id}")]


def swallowing_upgrades(seen: list[dict[str, Any]], release: asyncio.Event) -> web.Application:
    """A server (a proxy, say) that never answers the WebSocket handshake; HTTP works."""

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=502)

    app = http_only(seen)
    app.router.add_get("/stream/session/plain/execute", hang)
    return app


async def test_a_handshake_that_never_ends_falls_back_to_http(
    tiny_server: TinyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runloop, "STREAM_CONNECT_TIMEOUT", 0.5)
    seen: list[dict[str, Any]] = []
    release = asyncio.Event()
    try:
        async with APISession(await tiny_server(swallowing_upgrades(seen, release))) as api:
            kernel = api.Kernel("plain")
            async with asyncio.timeout(WAIT):
                results = [r async for r in kernel.run("x", stream=True)]
            assert kernel.execute_stream_supported is False
    finally:
        release.set()
    assert [r.status for r in results] == ["continued", "finished"]
    assert [s["mode"] for s in seen] == ["query", "continue"]


# --- code the server refuses --------------------------------------------------------------


async def run_to_end(kernel: Kernel, code: str, *, stream: bool) -> list[ExecutionResult]:
    async with asyncio.timeout(WAIT):
        return [r async for r in kernel.run(code, stream=stream)]


@pytest.mark.parametrize("stream", [True, False])
async def test_code_over_the_servers_limit_is_a_413_naming_the_limit(
    kernel: Kernel, stream: bool
) -> None:
    limit = 20 * (1 << 20) + (1 << 20)  # the embedded server's default: 20 files of 1 MiB
    code = "x = 1  # " + "a" * limit
    with pytest.raises(BackendAPIError) as caught:
        await run_to_end(kernel, code, stream=stream)
    assert (caught.value.status, caught.value.type) == (413, "request-too-large")
    assert f"{limit:,} bytes" in (caught.value.msg or "")
    message = describe_error("run", caught.value)
    assert "too large" in message
    assert f"{limit:,} bytes" in message
    # The kernel is still there and runs the next, smaller cell.
    results = [r async for r in kernel.run("print('after')", stream=stream)]
    assert stdout(results) == "after\n"


async def test_code_larger_than_a_default_websocket_message_runs(kernel: Kernel) -> None:
    code = "n = 1  # " + "a" * (5 << 20) + "\nprint(n)"  # aiohttp's default limit: 4 MiB
    async with asyncio.timeout(WAIT):
        results = [r async for r in kernel.run(code, stream=True)]
    assert stdout(results) == "1\n"


@pytest.mark.parametrize("stream", [True, False])
async def test_a_lone_surrogate_in_code_says_so(kernel: Kernel, stream: bool) -> None:
    with pytest.raises(BackendInvalidParamsError) as caught:
        await run_to_end(kernel, "print('\ud800')", stream=stream)
    assert "surrogate" in (caught.value.msg or "")
    message = describe_error("run", caught.value)
    assert "surrogate" in message
    assert "cannot reach" not in message


def test_a_stream_the_server_ended_is_not_called_unreachable() -> None:
    message = describe_error(
        "run", BackendStreamBroken("execute stream closed before the run finished")
    )
    assert "cannot reach" not in message
    assert "closed before the run finished" in message


def execute_sockets(embedded: Embedded) -> int:
    return sum(1 for r in embedded.recorder.requests if r.path.endswith("/execute"))


async def test_a_kept_execute_socket_is_connected_before_each_run(
    kernel: Kernel, embedded: Embedded
) -> None:
    kernel.keep_execute_socket = True
    kernel.ready_execute_socket()
    async with asyncio.timeout(WAIT):
        await embedded.recorder.wait_until(
            lambda: execute_sockets(embedded) == kernel_module.SPARES
        )
        for expected in ("1\n", "2\n"):
            before = execute_sockets(embedded)
            results = [r async for r in kernel.run(f"print({expected[0]})", stream=True)]
            assert stdout(results) == expected
            # this run took a socket connected before it; another spare is connected now
            await embedded.recorder.wait_until(lambda n=before: execute_sockets(embedded) > n)
            assert execute_sockets(embedded) == before + 1
        await kernel.drop_execute_socket()
        # with none kept, a run connects its own
        kernel.keep_execute_socket = False
        before = execute_sockets(embedded)
        results = [r async for r in kernel.run("print(3)", stream=True)]
    assert stdout(results) == "3\n"
    assert execute_sockets(embedded) == before + 1


async def test_two_runs_in_a_row_each_find_a_connected_execute_socket(kernel: Kernel) -> None:
    """A run started before the last run's replacement spare is connected (two round trips)
    takes the other spare, already connected, instead of waiting for that handshake."""
    kernel.keep_execute_socket = True
    kernel.ready_execute_socket()
    connected = list(kernel._spares)
    async with asyncio.timeout(WAIT):
        await asyncio.gather(*connected)
        first = await kernel.spare_execute_socket()
        kernel.ready_execute_socket()  # what a run does once its code is sent
        second = await kernel.spare_execute_socket()
    assert first is not None
    assert second is not None
    assert first is not second
    assert {first, second} == {task.result() for task in connected}
    for ws in (first, second):
        await ws.close()
    await kernel.drop_execute_socket()


async def test_a_large_file_is_joined_by_one_run_over_the_websocket(
    kernel: Kernel, embedded: Embedded, tmp_path: Path
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (5 * 1024))  # 1.25 MiB: over the 1 MiB upload limit
    before = len(execute_requests(embedded))
    async with asyncio.timeout(WAIT):
        await kernel.upload([big], basedir=tmp_path)
    # the join's clean/build/exec steps came over one WebSocket, not three HTTP requests
    assert [m for m, _ in execute_requests(embedded)[before:]] == ["GET"]
    results = [r async for r in kernel.run("print(len(open('big.bin', 'rb').read()))")]
    assert stdout(results) == f"{big.stat().st_size}\n"


async def test_a_spare_execute_socket_no_run_takes_is_closed(
    kernel: Kernel, embedded: Embedded, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A quiet editor holds no open execute stream (proxies time idle ones out; a manager
    could count one as activity); the next run connects its own."""
    monkeypatch.setattr(kernel_module, "SPARE_LIFETIME", 0.2)
    kernel.keep_execute_socket = True
    kernel.ready_execute_socket()
    spares = list(kernel._spares)
    assert len(spares) == kernel_module.SPARES
    async with asyncio.timeout(WAIT):
        for spare in spares:
            ws = await spare
            closing = await ws.receive()  # ends when the spare is closed by the kernel's timer
            assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
        assert kernel._spares == []
        before = execute_sockets(embedded)
        results = [r async for r in kernel.run("print(4)", stream=True)]
    assert stdout(results) == "4\n"
    assert execute_sockets(embedded) > before  # its own socket (and the next spare's)
    await kernel.drop_execute_socket()
