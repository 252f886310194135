"""Sync, files, terminal and session commands, end to end against the embedded server."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import (
    Recorder,
    command,
    field,
    open_doc,
    run_selection,
    uri_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
CAP = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    root = tmp_path_factory.mktemp(f"proj-{profile}")
    (root / "main.py").write_text("print('main')\n")
    (root / "pkg").mkdir()
    (root / "pkg" / "util.py").write_text("X = 1\n")
    (root / ".gitignore").write_text("data/\n")
    (root / "data").mkdir()
    (root / "data" / "ignored.csv").write_text("1,2\n")
    (root / "huge.bin").write_bytes(b"x" * (CAP + 1))
    (root / "weights.bin").write_bytes(bytes(range(256)) * 6000)  # 1.5 MB: sent in chunks
    return root


@pytest.fixture(scope="module")
def bridge_options() -> dict[str, Any]:
    return {"maxFileSize": CAP, "completionTimeout": "x"}


async def remote_sha(client: LanguageClient, workspace: Path, rel: str) -> str:
    """The sha256 of a file in the session, computed there."""
    code = (
        "import hashlib, os\n"
        f"p = {rel!r}\n"
        "print('SHA', hashlib.sha256(open(p, 'rb').read()).hexdigest() "
        "if os.path.exists(p) else 'missing')\n"
    )
    uri = open_doc(client, workspace / ".probe" / "probe.py", code)
    done = await command(
        client,
        protocol.RUN_SELECTION,
        {
            "uri": uri,
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}},
        },
    )
    return str(done and field(done, "runId"))


def local_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def sha_in_session(
    client: LanguageClient, bridge: Recorder, workspace: Path, rel: str
) -> str:
    run_id = await remote_sha(client, workspace, rel)
    return bridge.text(run_id).split("SHA", 1)[-1].strip()


async def test_workspace_sync_honours_excludes_and_a_second_sync_sends_nothing(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    await command(client, protocol.SYNC_WORKSPACE)
    second = await command(client, protocol.SYNC_WORKSPACE)
    assert field(second, "uploaded") == []
    syncs = [
        reports
        for reports in client.progress_reports.values()
        if reports and getattr(reports[0], "title", "") == "bai-bridge: syncing the workspace"
    ]
    assert len(syncs) >= 2
    assert all(isinstance(reports[-1], types.WorkDoneProgressEnd) for reports in syncs)
    assert field(second, "skipped") == ["huge.bin"]
    assert field(second, "unchanged") >= 3
    listing = await command(client, protocol.LIST_REMOTE_FILES, {"path": "."})
    names = {field(entry, "filename") for entry in listing}
    assert {"main.py", "pkg", ".gitignore"} <= names
    assert "data" not in names
    assert "huge.bin" not in names
    assert await sha_in_session(client, bridge, workspace, "pkg/util.py") == local_sha(
        workspace / "pkg" / "util.py"
    )
    assert await sha_in_session(client, bridge, workspace, "weights.bin") == local_sha(
        workspace / "weights.bin"
    )


async def test_invalid_options_are_reported_once(client: LanguageClient, bridge: Recorder) -> None:
    warnings = [m.message for m in client.messages if "completionTimeout" in m.message]
    assert len(warnings) == 1
    assert "default" in warnings[0]


async def save(client: LanguageClient, path: Path, text: str) -> None:
    await asyncio.to_thread(path.write_text, text)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri_of(path)))
    )


async def wait_for_sha(
    client: LanguageClient, bridge: Recorder, workspace: Path, rel: str, want: str
) -> None:
    for _ in range(100):
        if await sha_in_session(client, bridge, workspace, rel) == want:
            return
    raise AssertionError(f"{rel} never became {want!r} in the session")


async def test_saved_file_reaches_the_session_and_a_remote_change_is_not_overwritten(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    path = workspace / "main.py"
    await save(client, path, "print('saved once')\n")
    await save(client, path, "print('saved twice, quickly')\n")
    await wait_for_sha(client, bridge, workspace, "main.py", local_sha(path))

    changed = "open('main.py', 'w').write('changed in the session\\n')\n"
    uri = open_doc(client, workspace / ".probe" / "change.py", changed)
    await run_selection(client, uri, 0)
    remote = hashlib.sha256(b"changed in the session\n").hexdigest()
    asked = len(bridge.message_requests)
    await save(client, path, "print('local edit')\n")
    await bridge.wait_for("the question", lambda: len(bridge.message_requests) > asked)
    assert "main.py" in bridge.message_requests[-1].message
    assert await sha_in_session(client, bridge, workspace, "main.py") == remote

    ok = await command(
        client, protocol.RESOLVE_CONFLICT, {"path": "main.py", "action": "overwrite"}
    )
    assert ok is True
    assert await sha_in_session(client, bridge, workspace, "main.py") == local_sha(path)

    await run_selection(client, uri, 0)  # changed in the session again
    asked = len(bridge.message_requests)
    await save(client, path, "print('another local edit')\n")
    await bridge.wait_for("the question", lambda: len(bridge.message_requests) > asked)
    keep = {"path": "main.py", "action": "keep-remote"}
    assert await command(client, protocol.RESOLVE_CONFLICT, keep) is True
    assert path.read_text() == "changed in the session\n"  # the session's copy, fetched
    second = await command(client, protocol.SYNC_WORKSPACE)
    assert "main.py" not in field(second, "uploaded") + field(second, "conflicts")


async def test_download_brings_a_remote_file_into_the_workspace(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    uri = open_doc(
        client, workspace / ".probe" / "make.py", "open('out.txt', 'w').write('42\\n')\n"
    )
    await run_selection(client, uri, 0)
    result = await command(client, protocol.DOWNLOAD, {"paths": ["out.txt"], "dest": "fetched"})
    assert "out.txt" in field(result, "files")
    assert (workspace / "fetched" / "out.txt").read_text() == "42\n"


async def test_run_file_as_job_maps_its_traceback(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    code = "print('batch says hi')\nx = {}\nx['missing']\n"
    path = workspace / "job.py"
    uri = open_doc(client, path, code)
    result = await command(client, protocol.RUN_FILE_AS_JOB, {"uri": uri})
    assert field(result, "exitCode") != 0
    assert "batch says hi" in bridge.text(field(result, "runId"))
    diagnostics = await bridge.wait_for("the diagnostic", lambda: client.diagnostics.get(uri))
    assert [d.range.start.line for d in diagnostics] == [2]
    assert "KeyError" in diagnostics[0].message


async def test_terminal_descriptor_opens_with_a_plain_websocket(
    client: LanguageClient, bridge: Recorder
) -> None:
    descriptor = await command(client, protocol.TERMINAL_DESCRIPTOR)
    url, headers = field(descriptor, "url"), dict(field(descriptor, "headers"))
    assert url.startswith("ws://127.0.0.1:")
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        chars = base64.b64encode(b"echo pty-$((40+2))\n").decode()
        await ws.send_str(json.dumps({"type": "stdin", "chars": chars}))
        seen = b""
        async with asyncio.timeout(20):
            while b"pty-42" not in seen:
                message = await ws.receive()
                assert message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY)
                frame = json.loads(message.data)
                if frame.get("type") == "out":
                    seen += base64.b64decode(frame["data"])


async def test_info_logs_and_restart_keep_files_but_not_state(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    info = await command(client, protocol.SESSION_INFO)
    assert field(info, "sessionName") == bridge.statuses[-1]["sessionName"]
    logs = await command(client, protocol.SESSION_LOGS)
    assert isinstance(logs, str)

    uri = open_doc(client, workspace / ".probe" / "state.py", "kept_state = 1\nprint(kept_state)\n")
    await run_selection(client, uri, 0)
    await command(client, protocol.RESTART)
    after = await run_selection(client, uri, 1)
    assert "NameError" in bridge.text(field(after, "runId"), "stderr")
    assert await sha_in_session(client, bridge, workspace, "pkg/util.py") == local_sha(
        workspace / "pkg" / "util.py"
    )


async def test_deletes_and_renames_are_mirrored_only_for_files_sync_put_there(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    old = workspace / "old_name.py"
    await save(client, old, "MOVED = True\n")
    await wait_for_sha(client, bridge, workspace, "old_name.py", local_sha(old))
    uri = open_doc(client, workspace / ".probe" / "own.py", "open('theirs.py', 'w').write('x')\n")
    await run_selection(client, uri, 0)

    new = workspace / "new_name.py"
    await asyncio.to_thread(old.rename, new)
    client.workspace_did_rename_files(
        types.RenameFilesParams(files=[types.FileRename(old_uri=uri_of(old), new_uri=uri_of(new))])
    )
    await wait_for_sha(client, bridge, workspace, "old_name.py", "missing")
    assert await sha_in_session(client, bridge, workspace, "new_name.py") == local_sha(new)

    await asyncio.to_thread(new.unlink)
    client.workspace_did_delete_files(
        types.DeleteFilesParams(
            files=[
                types.FileDelete(uri=uri_of(new)),
                types.FileDelete(uri=uri_of(workspace / "theirs.py")),
            ]
        )
    )
    await wait_for_sha(client, bridge, workspace, "new_name.py", "missing")
    theirs = hashlib.sha256(b"x").hexdigest()
    assert await sha_in_session(client, bridge, workspace, "theirs.py") == theirs
