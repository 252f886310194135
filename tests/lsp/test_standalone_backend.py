"""bai-bridge against a standalone `bai-bridge local-server`: the session outlives the language
server, and a backend that dies leaves a server that still answers and says what happened."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.api import APIConfig, APISession
from bai_bridge.lsp import protocol
from serverkit import StandaloneServer

from .lsp_harness import (
    Recorder,
    command,
    complete,
    field,
    initialize,
    open_doc,
    run_selection,
    start_client,
    stop_server,
)


@attrs.define
class Backend:
    server: StandaloneServer
    profile: str

    @property
    def env(self) -> dict[str, str]:
        """What points the language server at this backend."""
        return {
            "BACKEND_ENDPOINT": self.server.endpoint,
            "BACKEND_ACCESS_KEY": self.server.access_key,
            "BACKEND_SECRET_KEY": self.server.secret_key,
        }

    @property
    def api_config(self) -> APIConfig:
        """What another client of the same backend (a second editor, a notebook) uses."""
        return APIConfig(
            endpoint=self.server.endpoint,
            access_key=self.server.access_key,
            secret_key=self.server.secret_key,
            env={},
        )

    def kill(self) -> None:
        """SIGKILL the server and everything it started (its own process group)."""
        if self.server.process.poll() is None:
            os.killpg(self.server.process.pid, signal.SIGKILL)
            self.server.process.wait(30)


@pytest.fixture
def backend(local_server_process: StandaloneServer, profile: str) -> Backend:
    return Backend(local_server_process, profile)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@asynccontextmanager
async def bridge_on(
    backend: Backend, root: Path, options: dict[str, Any] | None = None
) -> AsyncIterator[tuple[LanguageClient, Recorder]]:
    """A language server on ``backend`` with its session running; stopped on leaving."""
    client = await start_client(backend.profile, backend.env)
    try:
        yield client, await initialize(client, root, options)
    finally:
        await stop_server(client)
        await client.stop()


async def test_a_restarted_language_server_reuses_the_session_and_its_state(
    backend: Backend, project: Path
) -> None:
    async with bridge_on(backend, project) as (client, first):
        uri = open_doc(client, project / "a.py", "kept = 41\nprint('kept', kept + 1)\n")
        await run_selection(client, uri, 0)
        session_id = first.statuses[-1]["sessionId"]

    async with bridge_on(backend, project) as (client, second):
        assert second.statuses[-1]["sessionId"] == session_id
        uri = open_doc(client, project / "a.py", "kept = 41\nprint('kept', kept + 1)\n")
        result = await run_selection(client, uri, 1)
        assert "kept 42" in second.text(field(result, "runId"))
        sync = await command(client, protocol.SYNC_WORKSPACE)
        assert field(sync, "uploaded") == []  # the manifest in the session says it has a.py


async def test_a_killed_backend_gives_a_clear_message_and_the_server_still_answers(
    backend: Backend, project: Path
) -> None:
    async with bridge_on(backend, project) as (client, bridge):
        uri = open_doc(client, project / "b.py", "import os\nos.pa\nprint(1)\n")
        backend.kill()
        result = await run_selection(client, uri, 2)
        assert result is None
        await bridge.wait_for(
            "a message",
            lambda: any("cannot reach" in m.message for m in client.messages),
        )
        await bridge.wait_for("reconnecting", lambda: bridge.state() == "reconnecting")
        answer = await complete(client, uri, 1, 5)
        assert any(item.label == "path" for item in answer.items)
        lenses = await client.text_document_code_lens_async(
            types.CodeLensParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert list(lenses or []) == []
        again = await run_selection(client, uri, 2)  # while reconnecting: a quick, clear no
        assert again is None
        assert "keeps retrying" in client.messages[-1].message


async def test_a_session_terminated_from_outside_is_re_created_and_re_synced(
    backend: Backend, project: Path
) -> None:
    (project / "data.py").write_text("ROWS = 3\n")
    async with bridge_on(backend, project) as (client, bridge):
        await command(client, protocol.SYNC_WORKSPACE)
        first_id = bridge.statuses[-1]["sessionId"]
        async with APISession(backend.api_config) as api:
            await api.Kernel(bridge.statuses[-1]["sessionName"]).destroy()
        await bridge.wait_for("terminated", lambda: bridge.state() == "terminated")

        uri = open_doc(client, project / "use.py", "import data\nprint('rows', data.ROWS)\n")
        for _ in range(50):  # the re-sync runs beside the first run: retry until it landed
            result = await run_selection(client, uri, 0)
            if "ModuleNotFoundError" not in bridge.text(field(result, "runId"), "stderr"):
                break
        result = await run_selection(client, uri, 1)
        assert "rows 3" in bridge.text(field(result, "runId"))
        assert bridge.statuses[-1]["sessionId"] != first_id


def gated_cell(gate: Path) -> str:
    """Defines a name, says so, then waits (without a timer) until ``gate`` exists."""
    return (
        "import os, time\n"
        "shared_early = 1\n"
        "print('started', flush=True)\n"
        f"while not os.path.exists({str(gate)!r}): time.sleep(0.01)\n"
        "print('done', flush=True)\n"
    )


async def test_completion_while_someone_elses_cell_runs(
    backend: Backend, project: Path, tmp_path: Path, profile: str
) -> None:
    """Another client of the session (a second editor, a notebook) runs a cell the bridge knows
    nothing of. Embedded: the kernel's subshell answers with the name that cell defined.
    Cluster: complete() answers nothing and no subshell answers beside that cell; the bridge
    answers at once from its namespace mirror and static analysis, saying so, and runs nothing
    in the kernel meanwhile; the mirror brings the name with the snapshot after the bridge's
    next run."""
    gate = tmp_path / "gate"
    async with bridge_on(backend, project) as (client, bridge):
        uri = open_doc(client, project / "c.py", "shared_static = 2\nshared_\n")
        other_output: list[str] = []
        started = asyncio.Event()

        async def other_client() -> None:
            async with APISession(backend.api_config) as api:
                kernel = api.Kernel(bridge.statuses[-1]["sessionName"])
                async for result in kernel.run(gated_cell(gate)):
                    other_output.extend(getattr(item, "text", "") for item in result.console)
                    if "started" in "".join(other_output):
                        started.set()

        other = asyncio.create_task(other_client())
        try:
            async with asyncio.timeout(60):
                await started.wait()
            began = time.monotonic()
            answer = await complete(client, uri, 1, 7)
            elapsed = time.monotonic() - began
            found = {(item.label, item.detail) for item in answer.items}
            if profile == "embedded":
                assert ("shared_early", "bai-bridge: session") in found
            else:
                assert elapsed < 5.0  # completionTimeout (1 s) plus jedi's own time
                assert "shared_early" not in {label for label, _ in found}
                assert found == {("shared_static", "bai-bridge: static")}
            assert not other.done()  # the cell still waits for its gate
        finally:
            gate.touch()
        await asyncio.wait_for(other, 60)
        text = "".join(other_output)
        assert "done" in text  # the other client's cell ran to its end ...
        assert "KeyboardInterrupt" not in text  # ... not interrupted by the bridge
        if profile == "cluster":
            assert field(await run_selection(client, uri, 0), "status") == "finished"
            answer = await complete(client, uri, 1, 7)  # the snapshot after that run is in
            assert ("shared_early", "int") in {(item.label, item.detail) for item in answer.items}
