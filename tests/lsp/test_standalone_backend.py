"""bai-bridge against a standalone `bai-bridge local-server`: the session outlives the language
server, and a backend that dies leaves a server that still answers and says what happened."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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

    @property
    def env(self) -> dict[str, str]:
        """What points the language server at this backend."""
        return {
            "BACKEND_ENDPOINT": self.server.endpoint,
            "BACKEND_ACCESS_KEY": self.server.access_key,
            "BACKEND_SECRET_KEY": self.server.secret_key,
        }

    def kill(self) -> None:
        """SIGKILL the server and everything it started (its own process group)."""
        if self.server.process.poll() is None:
            os.killpg(self.server.process.pid, signal.SIGKILL)
            self.server.process.wait(30)


@pytest.fixture
def backend(local_server_process: StandaloneServer) -> Backend:
    return Backend(local_server_process)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@asynccontextmanager
async def bridge_on(backend: Backend, root: Path) -> AsyncIterator[tuple[LanguageClient, Recorder]]:
    """A language server on ``backend`` with its session running; stopped on leaving."""
    client = await start_client(backend.env)
    try:
        yield client, await initialize(client, root)
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
        config = APIConfig(
            endpoint=backend.env["BACKEND_ENDPOINT"],
            access_key=backend.env["BACKEND_ACCESS_KEY"],
            secret_key=backend.env["BACKEND_SECRET_KEY"],
            env={},
        )
        async with APISession(config) as api:
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
