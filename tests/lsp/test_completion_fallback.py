"""Completion where the session's complete() is unsupported (real managers answer 500 or
null; a 26.x cluster's Python runner answers nothing): names from a silent runtime query while
idle, kept for when a run is going on, plus jedi. Driven against a real kernel of the embedded
server: on the cluster profile the server gives the "nothing" answer itself; on the embedded
profile, whose kernel does answer, only that answer is stood in for, by the flag the client
sets when it sees one."""

from __future__ import annotations

from bai_bridge.lsp.completion_engine import CompletionEngine, CompletionRequest
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.tasks import BackgroundTasks


async def test_names_come_from_a_silent_query_then_from_memory_during_a_run(
    sessions: SessionManager, profile: str
) -> None:
    kernel = await sessions.kernel()
    async for _ in kernel.run("class Box: pass\nbox = Box()\nbox.weight_kg = 3\nbox_count = 1\n"):
        pass
    if profile == "embedded":
        kernel.completion_supported = False  # what complete() records after a 500 or null
    tasks = BackgroundTasks()
    engine = CompletionEngine(sessions, timeout=5.0, tasks=tasks)
    try:
        source = "box.we"
        answer = await engine.complete(CompletionRequest(source, 0, len(source)))
        found = {c.label: c.source for c in answer.candidates}
        assert found.get("weight_kg") == "session (cached)"
        assert kernel.completion_supported is False

        sessions.run_started()  # a run is going on: no query may queue behind it
        try:
            source = "import os\nbox_"
            answer = await engine.complete(CompletionRequest(source, 1, 4))
            assert "box_count" not in {c.label for c in answer.candidates}  # never listed yet
            source = "import os\nos.pa"
            answer = await engine.complete(CompletionRequest(source, 1, 5))
            assert ("path", "static") in {(c.label, c.source) for c in answer.candidates}
            source = "box.w"
            answer = await engine.complete(CompletionRequest(source, 0, 5))
            assert ("weight_kg", "session (cached)") in {
                (c.label, c.source) for c in answer.candidates
            }
        finally:
            sessions.run_finished()

        source = "box_"
        answer = await engine.complete(CompletionRequest(source, 0, 4))
        assert "box_count" in {c.label for c in answer.candidates}
    finally:
        await tasks.cancel_all()
