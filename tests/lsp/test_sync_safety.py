"""Sync never loses work, end to end: a first sync killed half way continues without asking
about the files it already sent; a folder the session cannot list is not written into; a file
that cannot be read here is reported, not skipped in silence.

The permission cases run the language server without the capability that lets root read and
write whatever it likes (when the tests run as root), so file modes mean what they say.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pytest_lsp import ClientServerConfig, LanguageClient

from bai_bridge.lsp import protocol
from bai_bridge.lsp.sync_service import UPLOAD_BATCH
from serverkit import StandaloneServer
from wanproxy import SeenRequest, WanProxy

from .lsp_harness import (
    WAIT,
    Recorder,
    command,
    field,
    initialize,
    open_doc,
    server_config,
    start_client,
    stop_server,
)

FILES = 3000
NO_OVERRIDE = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def backend_env(server: StandaloneServer) -> dict[str, str]:
    return {
        "BACKEND_ENDPOINT": server.endpoint,
        "BACKEND_ACCESS_KEY": server.access_key,
        "BACKEND_SECRET_KEY": server.secret_key,
    }


def write_tree(root: Path) -> list[str]:
    names = [f"pkg{i // 100:02d}/m{i:04d}.py" for i in range(FILES)]
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"NAME = {name!r}\n")
    return names


async def test_a_first_sync_killed_half_way_continues_without_conflicts(
    local_server_process: StandaloneServer, tmp_path: Path, profile: str
) -> None:
    root = tmp_path / "project"
    names = write_tree(root)
    port = int(local_server_process.endpoint.rsplit(":", 1)[1])
    async with WanProxy("127.0.0.1", port) as wan:
        stalled = asyncio.Event()

        def stall_at_two_thirds(request: SeenRequest) -> None:
            # Once 2/3 of the files' uploads are on their way, answers stop coming back:
            # the sync cannot end before the kill, however loaded the machine.
            uploads = sum(r.target.endswith("/upload") for r in wan.requests)
            if uploads * UPLOAD_BATCH >= FILES * 2 // 3 and not stalled.is_set():
                wan.hold_answers()
                stalled.set()

        wan.on_request = stall_at_two_thirds
        await _kill_a_first_sync(
            profile,
            root,
            {**backend_env(local_server_process), "BACKEND_ENDPOINT": wan.address},
            stalled,
        )
    env = backend_env(local_server_process)
    client = await start_client(profile, env)
    try:
        await initialize(client, root, {"syncOnStart": False})
        result = await command(client, protocol.SYNC_WORKSPACE)
        assert field(result, "conflicts") == []
        assert field(result, "failed") == []
        sent_again = field(result, "uploaded")
        # The kill came after 2/3 were on their way, before the sync's end: the files in
        # flight may all have landed (unrecorded, recognised by content) or not.
        assert len(sent_again) < FILES // 2
        assert len(sent_again) + field(result, "unchanged") == FILES
        again = await command(client, protocol.SYNC_WORKSPACE)
        assert (field(again, "uploaded"), field(again, "unchanged")) == ([], FILES)
    finally:
        await stop_server(client)
        await client.stop()
    work = [p for p in local_server_process.data_dir.rglob("pkg00") if p.is_dir()]
    assert len(work) == 1  # the session's copy of the workspace
    held = sorted(str(p.relative_to(work[0].parent)) for p in work[0].parent.rglob("m*.py"))
    assert held == sorted(names)


async def _kill_a_first_sync(
    profile: str, root: Path, env: dict[str, str], stalled: asyncio.Event
) -> None:
    """Start a first sync of ``root`` and SIGKILL its language server once ``stalled``
    (2/3 of the files on their way, the rest held up)."""
    client = await start_client(profile, env)
    process = client._server
    assert process is not None
    sync: asyncio.Future[object] | None = None
    try:
        await initialize(client, root, {"syncOnStart": False})
        sync = asyncio.ensure_future(command(client, protocol.SYNC_WORKSPACE))
        async with asyncio.timeout(WAIT):
            await stalled.wait()
        assert not sync.done()
        process.send_signal(signal.SIGKILL)
        await process.wait()
    finally:
        if process.returncode is None:  # failed before the kill: stopping would wait on it
            process.kill()
            await process.wait()
        await client.stop()
        if sync is not None:
            sync.cancel()
            with contextlib.suppress(BaseException):
                await sync  # the request died with its server


def without_override(profile: str) -> ClientServerConfig:
    """A language server for whom file modes count, even when the tests run as root."""
    config = server_config(profile)
    if os.geteuid() == 0:
        config.server_command = [*NO_OVERRIDE, *config.server_command]
    return config


@pytest.fixture
async def confined(
    tmp_path: Path, profile: str
) -> AsyncIterator[tuple[LanguageClient, Recorder, Path]]:
    root = tmp_path / "project"
    root.mkdir()
    client = await without_override(profile).start()
    assert isinstance(client, LanguageClient)
    try:
        yield client, await initialize(client, root, {"syncOnStart": False}), root
    finally:
        await stop_server(client)
        await client.stop()


async def session_says(client: LanguageClient, bridge: Recorder, root: Path, code: str) -> str:
    uri = open_doc(client, root / ".probe.py", code)
    lines = code.count("\n")
    done = await command(
        client,
        protocol.RUN_SELECTION,
        {
            "uri": uri,
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": lines, "character": 0}},
        },
    )
    return bridge.text(field(done, "runId"))


async def test_an_unreadable_file_is_reported_not_skipped_in_silence(
    confined: tuple[LanguageClient, Recorder, Path],
) -> None:
    client, bridge, root = confined
    (root / "ok.py").write_text("OK = 1\n")
    (root / "secret.py").write_text("KEY = 1\n")
    (root / "secret.py").chmod(0)
    result = await command(client, protocol.SYNC_WORKSPACE)
    assert field(result, "uploaded") == ["ok.py"]
    assert field(result, "failed") == ["secret.py"]
    await bridge.wait_for(
        "a message naming it", lambda: any("secret.py" in m.message for m in client.messages)
    )


LOCK_A_FOLDER = """import os
os.makedirs("locked", exist_ok=True)
open("locked/a.py", "w").write("THEIRS = 1\\n")
os.chmod("locked", 0o333)
print("made")
"""


async def test_a_folder_the_session_cannot_list_is_not_written_into(
    confined: tuple[LanguageClient, Recorder, Path],
) -> None:
    """Write and enter only: it holds a file sync never saw, and must not read as "no such
    folder", free to upload into."""
    client, bridge, root = confined
    assert "made" in await session_says(client, bridge, root, LOCK_A_FOLDER)
    (root / "locked").mkdir()
    (root / "locked" / "a.py").write_text("MINE = 1\n")
    result = await command(client, protocol.SYNC_WORKSPACE)
    assert (field(result, "uploaded"), field(result, "failed")) == ([], ["./"])  # the folder
    await bridge.wait_for(
        "the listing error", lambda: any("'locked'" in m.message for m in client.messages)
    )
    unlock = "import os\nos.chmod('locked', 0o755)\nprint(open('locked/a.py').read())\n"
    assert "THEIRS = 1" in await session_says(client, bridge, root, unlock)
