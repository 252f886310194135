"""Completion where the session's complete() is unsupported (real managers answer 500 or
null; a 26.x cluster's Python runner answers nothing): the namespace mirror answers, refreshed
once per run, during a run too, plus jedi. Driven against a real kernel of the embedded server:
on the cluster profile the server gives the "nothing" answer itself; on the embedded profile,
whose kernel does answer, only that answer is stood in for, by the flag the client sets when
it sees one."""

from __future__ import annotations

from bai_bridge.api import Kernel
from bai_bridge.api.models import Stdout
from bai_bridge.lsp.completion_engine import CompletionEngine, CompletionRequest
from bai_bridge.lsp.mirror import NamespaceMirror
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.tasks import BackgroundTasks


async def execution_count(kernel: Kernel) -> int:
    out = []
    async for result in kernel.run("print(get_ipython().execution_count)"):
        out.extend(item.text for item in result.console if isinstance(item, Stdout))
    return int("".join(out))


async def labels(engine: CompletionEngine, source: str) -> dict[str, tuple[str, str | None]]:
    lines = source.split("\n")
    answer = await engine.complete(CompletionRequest(source, len(lines) - 1, len(lines[-1])))
    return {c.label: (c.source, c.kind) for c in answer.candidates}


async def test_names_come_from_the_mirror_during_a_run_without_running_code(
    sessions: SessionManager, profile: str
) -> None:
    kernel = await sessions.kernel()
    async for _ in kernel.run("import os\nclass Box: pass\nbox = Box()\nbox.weight_kg = 3\n"):
        pass
    if profile == "embedded":
        kernel.completion_supported = False  # what complete() records after a 500 or null
    mirror = NamespaceMirror(sessions, BackgroundTasks())
    engine = CompletionEngine(sessions, mirror, timeout=5.0)
    await mirror.refresh()
    sent = mirror.probes
    before = await execution_count(kernel)

    for _ in range(5):  # the session is idle: still nothing may run per keystroke
        assert (await labels(engine, "box.we"))["weight_kg"] == ("session", "instance")
        assert (await labels(engine, "Bo"))["Box"] == ("session", "class")
    assert mirror.probes == sent  # all of it known: nothing asked of the kernel
    assert await execution_count(kernel) == before + 1  # only that count query itself ran
    # After the dot of a live object jedi is not asked (inferring `frame.` walks pandas: it
    # cost 200 ms a keystroke); here it would have guessed a str's methods.
    found = await labels(engine, "box = ''\nbox.")
    assert set(found) == {"weight_kg"}

    sessions.run_started()  # a run is going on: nothing may queue behind it
    try:
        assert "box" in await labels(engine, "import os\nbo")
        assert (await labels(engine, "import os\nos.path.jo"))["join"] == ("static", "function")
        assert mirror.probes == sent  # `os.path` is one level too deep: not fetched now
    finally:
        sessions.run_finished()

    found = await labels(engine, "os.path.jo")
    assert found["join"] == ("session", "function")  # fetched once, now that it is idle
    assert mirror.probes == sent + 1
    await labels(engine, "os.path.ex")
    assert mirror.probes == sent + 1
