"""bai-bridge against a standalone `bai-bridge local-server`: the session outlives the language
server, and a backend that dies leaves a server that still answers and says what happened."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from lsp_harness import (
    Recorder,
    command,
    complete,
    field,
    initialize,
    open_doc,
    run_selection,
    server_config,
    stop_server,
)
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.api import APIConfig, APISession
from bai_bridge.lsp import protocol


@attrs.define
class Backend:
    env: dict[str, str]
    process: subprocess.Popen[str]

    def kill(self) -> None:
        """SIGKILL the server and everything it started (its own process group)."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    access, secret = "AKLSP" + secrets.token_hex(6).upper(), secrets.token_urlsafe(30)
    env = {**os.environ, "BACKEND_ACCESS_KEY": access, "BACKEND_SECRET_KEY": secret}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bai_bridge",
            "local-server",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    backend = Backend({}, process)
    try:
        assert process.stdout is not None
        match = re.search(r"(http://\S+)", process.stdout.readline())
        assert match
        backend.env = {
            "BACKEND_ENDPOINT": match.group(1),
            "BACKEND_ACCESS_KEY": access,
            "BACKEND_SECRET_KEY": secret,
        }
        yield backend
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                backend.kill()


async def start_bridge(backend: Backend, root: Path) -> tuple[LanguageClient, Recorder]:
    client = await server_config(backend.env).start()
    assert isinstance(client, LanguageClient)
    recorder = await initialize(client, root)
    await recorder.wait_for("the session", lambda: recorder.state() == "running")
    return client, recorder


async def close_bridge(client: LanguageClient) -> None:
    await stop_server(client)
    await client.stop()


async def test_a_restarted_language_server_reuses_the_session_and_its_state(
    backend: Backend, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    client, first = await start_bridge(backend, root)
    try:
        uri = open_doc(client, root / "a.py", "kept = 41\nprint('kept', kept + 1)\n")
        await run_selection(client, uri, 0)
        session_id = first.statuses[-1]["sessionId"]
    finally:
        await close_bridge(client)

    client, second = await start_bridge(backend, root)
    try:
        assert second.statuses[-1]["sessionId"] == session_id
        uri = open_doc(client, root / "a.py", "kept = 41\nprint('kept', kept + 1)\n")
        result = await run_selection(client, uri, 1)
        assert "kept 42" in second.text(field(result, "runId"))
        sync = await command(client, protocol.SYNC_WORKSPACE)
        assert field(sync, "uploaded") == []  # the manifest in the session says it has a.py
    finally:
        await close_bridge(client)


async def test_a_killed_backend_gives_a_clear_message_and_the_server_still_answers(
    backend: Backend, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    client, bridge = await start_bridge(backend, root)
    try:
        uri = open_doc(client, root / "b.py", "import os\nos.pa\nprint(1)\n")
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
    finally:
        await close_bridge(client)


async def test_a_session_terminated_from_outside_is_re_created_and_re_synced(
    backend: Backend, tmp_path: Path
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "data.py").write_text("ROWS = 3\n")
    client, bridge = await start_bridge(backend, root)
    try:
        await command(client, protocol.SYNC_WORKSPACE)
        first_id = bridge.statuses[-1]["sessionId"]
        config = APIConfig(
            endpoint=backend.env["BACKEND_ENDPOINT"],
            access_key=backend.env["BACKEND_ACCESS_KEY"],
            secret_key=backend.env["BACKEND_SECRET_KEY"],
        )
        async with APISession(config) as api:
            await api.Kernel(bridge.statuses[-1]["sessionName"]).destroy()
        await bridge.wait_for("terminated", lambda: bridge.state() == "terminated")

        uri = open_doc(client, root / "use.py", "import data\nprint('rows', data.ROWS)\n")
        for _ in range(50):  # the re-sync runs beside the first run: retry until it landed
            result = await run_selection(client, uri, 0)
            if "ModuleNotFoundError" not in bridge.text(field(result, "runId"), "stderr"):
                break
        result = await run_selection(client, uri, 1)
        assert "rows 3" in bridge.text(field(result, "runId"))
        assert bridge.statuses[-1]["sessionId"] != first_id
    finally:
        await close_bridge(client)
