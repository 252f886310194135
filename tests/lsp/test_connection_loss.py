"""bai-bridge when the session server goes away and comes back (a standalone
`bai-bridge local-server` killed and started again on the same port and keys): saves made
meanwhile arrive, the lost session is re-created by the next save, failures are told once,
the status says "reconnecting" and then "running"; and commands in the first moments after
`initialized` wait for the session instead of failing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.api import APISession, BackendNotFoundError, Kernel
from bai_bridge.lsp import protocol
from bai_bridge.lsp.sync_service import CHECKPOINT_FILES
from serverkit import standalone_server

from .lsp_harness import (
    WAIT,
    Recorder,
    command,
    field,
    initialize,
    open_doc,
    run_selection,
    start_client,
    stop_server,
    uri_of,
)
from .test_standalone_backend import Backend, bridge_on

NO_SYNC_ON_START = {"syncOnStart": False}  # what arrives, arrives by the save itself


@pytest.fixture
def backend(tmp_path: Path, profile: str) -> Iterator[tuple[Backend, Callable[[], None]]]:
    """A standalone server, and how to kill it and start it again where it was (same port,
    keys and data folder; its sessions die with it, as a restarted server's do)."""
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(standalone_server(tmp_path, profile=profile))
        backend = Backend(first, profile)

        def restart() -> None:
            backend.kill()
            port = int(first.endpoint.rsplit(":", 1)[1])
            keys = (first.access_key, first.secret_key)
            again = standalone_server(tmp_path, profile=profile, port=port, keys=keys)
            backend.server = stack.enter_context(again)

        yield backend, restart


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


def save(client: LanguageClient, path: Path, text: str) -> None:
    path.write_text(text)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri_of(path)))
    )


async def arrives(backend: Backend, session_name: str, rel: str, text: str) -> None:
    """Wait until the session ``session_name`` (whichever one has that name now) holds
    ``rel`` with ``text``."""
    async with APISession(backend.api_config) as api, asyncio.timeout(WAIT):
        kernel = api.Kernel(session_name)
        while True:
            with contextlib.suppress(BackendNotFoundError):  # not (re-)created yet
                listing = await kernel.list_files(".")
                if rel in {f.filename for f in listing.files}:
                    assert await printed(kernel, f"print(open({rel!r}).read(), end='')") == text
                    return
            await asyncio.sleep(0.2)  # polling the session: it tells nobody of uploads


async def printed(kernel: Kernel, code: str) -> str:
    out: list[str] = []
    async for result in kernel.run(code):
        out.extend(getattr(item, "text", "") for item in result.console)
    return "".join(out)


def unreachable(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if "cannot reach" in m.message]


async def test_a_save_while_the_server_is_down_arrives_once_it_is_back(
    backend: tuple[Backend, Callable[[], None]], project: Path
) -> None:
    server, restart = backend
    async with bridge_on(server, project, NO_SYNC_ON_START) as (client, bridge):
        name = bridge.statuses[-1]["sessionName"]
        server.kill()
        save(client, project / "saved.py", "SAVED = 1\n")
        await bridge.wait_for("reconnecting", lambda: bridge.state() == "reconnecting")
        save(client, project / "also.py", "ALSO = 2\n")  # a second save while it is down
        await bridge.wait_for("the outage told", lambda: unreachable(client))
        running_before = len([s for s in bridge.statuses if s["state"] == "running"])

        restart()
        await bridge.wait_for(
            "running again",
            lambda: (
                bridge.state() == "running"
                and len([s for s in bridge.statuses if s["state"] == "running"]) > running_before
            ),
        )
        await arrives(server, name, "saved.py", "SAVED = 1\n")
        await arrives(server, name, "also.py", "ALSO = 2\n")
        assert len(unreachable(client)) == 1  # once for the outage, not once per save


async def test_a_session_lost_with_its_server_is_re_created_by_the_next_save(
    backend: tuple[Backend, Callable[[], None]], project: Path
) -> None:
    server, restart = backend
    async with bridge_on(server, project, NO_SYNC_ON_START) as (client, bridge):
        name, first_id = bridge.statuses[-1]["sessionName"], bridge.statuses[-1]["sessionId"]
        restart()  # before the language server notices: it still holds the old session
        save(client, project / "after.py", "AFTER = 3\n")
        await arrives(server, name, "after.py", "AFTER = 3\n")
        await bridge.wait_for(
            "the new session", lambda: bridge.statuses[-1]["sessionId"] not in (None, first_id)
        )
        assert bridge.state() == "running"


async def test_many_files_refused_by_the_session_are_told_in_one_message(
    backend: tuple[Backend, Callable[[], None]], project: Path
) -> None:
    """The session holds folders where the workspace has 320 files: each upload is refused,
    and the person hears of it once for the sync, not 320 times (nor once per checkpoint)."""
    server, _restart = backend
    async with bridge_on(server, project) as (client, bridge):
        names = [f"m{i:03d}.py" for i in range(CHECKPOINT_FILES + 20)]
        async with APISession(server.api_config) as api:
            kernel = api.Kernel(bridge.statuses[-1]["sessionName"])
            code = f"import os\nfor n in {names!r}: os.makedirs(n)\nprint('made')"
            assert await printed(kernel, code) == "made\n"
        for n in names:
            (project / n).write_text(f"# {n}\n")
        before = len(client.messages)
        result = await command(client, protocol.SYNC_WORKSPACE)
        assert sorted(field(result, "failed")) == names
        told = [m.message for m in client.messages[before:]]
        assert len(told) == 1, told[:3]
        assert "m000.py" in told[0]
        assert f"(and {len(names) - 5} more)" in told[0]


async def test_a_command_right_after_initialized_waits_for_the_session(
    project: Path, profile: str
) -> None:
    client = await start_client(profile)
    try:
        bridge: Recorder = await initialize(client, project, wait=False)
        uri = open_doc(client, project / "early.py", "print('early', 6 * 7)\n")
        result = await run_selection(client, uri, 0)  # sent before the session exists
        assert result is not None, [m.message for m in client.messages]
        assert bridge.text(field(result, "runId")) == "early 42\n"
        assert not [m.message for m in client.messages if "not initialized" in m.message]
    finally:
        await stop_server(client)
        await client.stop()
