"""Run-loop branches a real manager can produce but the embedded server does not: an agent
watchdog's ``exec-timeout``, a dropped connection mid-run, and a run nobody answers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from bai_bridge.api import APIConfig, APISession, BackendClientError, runloop
from bai_bridge.api.runloop import RunDrop

TinyServer = Callable[[web.Application], Awaitable[APIConfig]]


def scripted(answers: list[dict[str, Any]], seen: list[dict[str, Any]]) -> web.Application:
    async def execute(request: web.Request) -> web.StreamResponse:
        seen.append(await request.json())
        answer = answers.pop(0)
        if answer.get("drop"):
            assert request.transport is not None
            request.transport.close()
            return web.Response()
        return web.json_response({"result": answer})

    async def interrupt(request: web.Request) -> web.Response:
        seen.append({"interrupt": True})
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/session/scripted", execute)
    app.router.add_post("/session/scripted/interrupt", interrupt)
    return app


async def test_exec_timeout_ends_the_run(tiny_server: TinyServer) -> None:
    seen: list[dict[str, Any]] = []
    answers = [
        {"runId": "r", "status": "continued", "console": [["stdout", "a"]]},
        {"runId": "r", "status": "exec-timeout", "console": []},
    ]
    async with APISession(await tiny_server(scripted(answers, seen))) as api:
        results = [r async for r in api.Kernel("scripted").run("loop()")]
    assert [r.status for r in results] == ["continued", "exec-timeout"]
    assert [s.get("mode") for s in seen] == ["query", "continue"]
    assert seen[1] == {"mode": "continue", "code": "", "runId": "r"}


async def test_input_without_a_callback_sends_an_empty_line(tiny_server: TinyServer) -> None:
    seen: list[dict[str, Any]] = []
    answers = [
        {"runId": "r", "status": "waiting-input", "console": [], "options": {}},
        {"runId": "r", "status": "finished", "exitCode": 0, "console": []},
    ]
    async with APISession(await tiny_server(scripted(answers, seen))) as api:
        results = [r async for r in api.Kernel("scripted").run("", mode="batch")]
    assert results[-1].status == "finished"
    assert seen[0]["options"] == {"clean": None, "build": None, "buildLog": False, "exec": None}
    assert seen[1] == {"mode": "input", "code": "", "runId": "r"}


async def test_a_connection_dropped_mid_run_is_waited_out_and_the_run_continued(
    tiny_server: TinyServer,
) -> None:
    seen: list[dict[str, Any]] = []
    answers = [
        {"runId": "r", "status": "continued", "console": [["stdout", "a"]]},
        {"drop": True},
        {"runId": "r", "status": "finished", "exitCode": 0, "console": [["stdout", "b"]]},
    ]
    drops: list[RunDrop] = []
    async with APISession(await tiny_server(scripted(answers, seen))) as api:
        results = [r async for r in api.Kernel("scripted").run("x", on_drop=drops.append)]
    assert "".join(item.text for r in results for item in r.console) == "ab"
    assert seen[1:] == [{"mode": "continue", "code": "", "runId": "r"}] * 2
    assert len(drops) == 1
    assert drops[0].at <= drops[0].back_at


async def test_a_connection_that_stays_down_is_a_client_error_and_interrupts(
    tiny_server: TinyServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runloop, "RESUME_WITHIN", 0.5)  # then the second try is past it
    seen: list[dict[str, Any]] = []
    answers = [{"runId": "r", "status": "continued", "console": []}, *[{"drop": True}] * 5]
    async with APISession(await tiny_server(scripted(answers, seen))) as api:
        with pytest.raises(BackendClientError):
            async for _ in api.Kernel("scripted").run("x"):
                pass
    assert seen[-1] == {"interrupt": True}


async def test_breaking_out_with_aclosing_interrupts_at_once(tiny_server: TinyServer) -> None:
    seen: list[dict[str, Any]] = []
    answers = [{"runId": "r", "status": "continued", "console": []}]
    async with APISession(await tiny_server(scripted(answers, seen))) as api:
        async with contextlib.aclosing(api.Kernel("scripted").run("x")) as run:
            async for _ in run:
                break
        assert seen[-1] == {"interrupt": True}
        with pytest.raises(ValueError, match="run mode"):
            async with asyncio.timeout(5):
                _ = [r async for r in api.Kernel("scripted").run("x", mode="continue")]


async def test_a_run_left_without_interrupting_leaves_the_session_alone(
    tiny_server: TinyServer,
) -> None:
    seen: list[dict[str, Any]] = []
    answers = [{"runId": "r", "status": "continued", "console": []}]
    async with APISession(await tiny_server(scripted(answers, seen))) as api:
        kernel = api.Kernel("scripted")
        async with contextlib.aclosing(kernel.run("x", interrupt=False)) as run:
            async for _ in run:
                break
        assert {"interrupt": True} not in seen
        with pytest.raises(ValueError, match="without interrupting"):
            _ = [r async for r in kernel.run("x", stream=True, interrupt=False)]
