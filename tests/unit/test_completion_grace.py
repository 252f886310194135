"""With live names to show, a completion does not wait for a slow jedi: it answers from the
mirror, marked incomplete, and jedi's answer, kept when it comes, serves the next keystrokes
of the same word."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bai_bridge.lsp import completion_engine
from bai_bridge.lsp.completion_engine import CompletionEngine, CompletionRequest
from bai_bridge.lsp.mirror import Entry, NamespaceMirror
from bai_bridge.lsp.static_completion import Candidate


class Kernel:
    completion_supported = False  # a real cluster's manager: complete() is not asked


class Sessions:
    kernel_if_ready = Kernel()
    busy = False


async def test_a_slow_jedi_is_not_waited_for_and_serves_the_next_keystroke(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started, gate, calls = threading.Event(), threading.Event(), []

    def slow_jedi(
        source: str, line: int, col: int, path: str | None, extra: tuple[str, ...] = ()
    ) -> list[Candidate]:
        calls.append(source)
        started.set()
        gate.wait(10)
        return [Candidate("run_local", "static"), Candidate("rundown", "static")]

    monkeypatch.setattr(completion_engine, "jedi_candidates", slow_jedi)
    mirror = NamespaceMirror(Sessions(), None)  # type: ignore[arg-type]
    mirror.entries["run_live"] = Entry("instance", "int", repr="1")
    engine = CompletionEngine(Sessions(), mirror, 1.0)  # type: ignore[arg-type]
    engine._jedi_warm = True

    first = await asyncio.wait_for(engine.complete(CompletionRequest("x = 1\nrun", 1, 3)), 1)
    assert [c.label for c in first.candidates] == ["run_live"]
    assert first.incomplete  # the client asks again on the next keystroke
    assert await asyncio.to_thread(started.wait, 10)
    gate.set()
    # jedi's call has ended (and its answer is kept) once its lock is free
    assert await asyncio.to_thread(engine._jedi.acquire, True, 10)
    engine._jedi.release()

    second = await engine.complete(CompletionRequest("x = 1\nrun_", 1, 4))
    assert [c.label for c in second.candidates] == ["run_live", "run_local"]
    assert not second.incomplete
    assert len(calls) == 1  # the kept answer, narrowed to `run_`: jedi was not asked again
    elsewhere = await engine.complete(CompletionRequest("y = 2\nrun_", 1, 4))
    assert len(calls) == 2  # the buffer changed: jedi is asked anew
    assert elsewhere.candidates[0].label == "run_live"


class AskedKernel:
    completion_supported = None  # not known yet: a server that may answer

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def complete(self, code: str, options: object) -> list[str]:
        self.asked.append(code)
        return ["round_trip_name"]


async def test_the_session_is_asked_only_for_what_the_mirror_lacks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(completion_engine, "jedi_candidates", lambda *_: [])
    kernel = AskedKernel()
    sessions = Sessions()
    sessions.kernel_if_ready = kernel  # type: ignore[assignment]
    mirror = NamespaceMirror(sessions, None)  # type: ignore[arg-type]
    mirror.entries["run_live"] = Entry("instance", "int", repr="1")
    engine = CompletionEngine(sessions, mirror, 1.0)  # type: ignore[arg-type]

    known = await engine.complete(CompletionRequest("run", 0, 3))
    assert [c.label for c in known.candidates] == ["run_live"]
    assert kernel.asked == []  # no round trip for a name the mirror has
    assert known.incomplete  # the next keystroke asks again
    other = await engine.complete(CompletionRequest("round", 0, 5))
    assert kernel.asked == ["round"]
    assert [c.label for c in other.candidates] == ["round_trip_name"]
