"""Download never destroys local work: a file changed here since sync last saw it is replaced
only when the person says so, and each of their answers is honoured."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol
from bai_bridge.lsp.files import KEEP_BOTH, KEEP_MINE, TAKE_THEIRS

from .lsp_harness import Recorder, command, field, open_doc, run_selection, uri_of

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    root = tmp_path_factory.mktemp(f"downloads-{profile}")
    (root / "data.txt").write_text("synced data\n")
    (root / "notes.txt").write_text("synced notes\n")
    return root


@pytest.fixture(scope="module")
def bridge_options() -> dict[str, object]:
    return {"syncOnStart": False}


async def write_in_session(client: LanguageClient, workspace: Path, rel: str, text: str) -> None:
    code = f"open({rel!r}, 'w').write({text!r})\n"
    uri = open_doc(client, workspace / ".probe" / "write.py", code)
    assert field(await run_selection(client, uri, 0), "status") == "finished"


async def download(
    client: LanguageClient, bridge: Recorder, answer: str | None, paths: list[str], **more: str
) -> tuple[object, list[types.ShowMessageRequestParams]]:
    """DOWNLOAD with the person answering ``answer``; the result and the questions asked."""
    asked = len(bridge.message_requests)
    bridge.message_answer = answer
    try:
        result = await command(client, protocol.DOWNLOAD, {"paths": paths, **more})
    finally:
        bridge.message_answer = None
    return result, bridge.message_requests[asked:]


async def test_a_file_unchanged_here_since_sync_takes_the_sessions_copy_unasked(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    await command(client, protocol.SYNC_WORKSPACE)
    await write_in_session(client, workspace, "data.txt", "newer in the session\n")
    result, asked = await download(client, bridge, None, ["data.txt"])
    assert asked == []
    assert (workspace / "data.txt").read_text() == "newer in the session\n"
    assert field(result, "kept") == []
    second = await command(client, protocol.SYNC_WORKSPACE)  # recorded as the same both sides
    assert "data.txt" not in field(second, "uploaded") + field(second, "conflicts")


async def test_download_over_a_local_edit_asks_and_honours_each_answer(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    local = workspace / "notes.txt"
    await write_in_session(client, workspace, "notes.txt", "theirs\n")
    before = len(bridge.message_requests)
    await asyncio.to_thread(local.write_text, "mine\n")  # held back: the session changed too
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(types.TextDocumentIdentifier(uri_of(local)))
    )
    await bridge.wait_for("sync's question", lambda: len(bridge.message_requests) > before)

    for answer in (None, KEEP_MINE):
        result, asked = await download(client, bridge, answer, ["notes.txt"])
        assert len(asked) == 1
        assert "notes.txt" in asked[0].message
        assert [a.title for a in asked[0].actions or []] == [KEEP_MINE, TAKE_THEIRS, KEEP_BOTH]
        assert local.read_text() == "mine\n"
        assert field(result, "kept") == ["notes.txt"]
    assert any("not downloaded" in m.message and "notes.txt" in m.message for m in client.messages)
    assert not (workspace / "notes (session copy).txt").exists()

    result, asked = await download(client, bridge, KEEP_BOTH, ["notes.txt"])
    assert len(asked) == 1
    assert local.read_text() == "mine\n"
    assert field(result, "copies") == ["notes (session copy).txt"]
    assert (workspace / "notes (session copy).txt").read_text() == "theirs\n"

    result, asked = await download(client, bridge, TAKE_THEIRS, ["notes.txt"])
    assert len(asked) == 1
    assert local.read_text() == "theirs\n"
    assert field(result, "kept") == []
    _, asked = await download(client, bridge, None, ["notes.txt"])
    assert asked == []  # the same on both sides now
    synced = await command(client, protocol.SYNC_WORKSPACE)
    assert "notes.txt" not in field(synced, "uploaded") + field(synced, "conflicts")


async def test_a_local_file_sync_never_saw_is_not_overwritten_unasked(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    await write_in_session(client, workspace, "out.txt", "from the session\n")
    kept = workspace / "fetched" / "out.txt"
    kept.parent.mkdir()
    kept.write_text("made here\n")
    result, asked = await download(client, bridge, None, ["out.txt"], dest="fetched")
    assert len(asked) == 1
    assert "fetched/out.txt" in asked[0].message
    assert kept.read_text() == "made here\n"
    assert field(result, "kept") == ["fetched/out.txt"]
    await download(client, bridge, TAKE_THEIRS, ["out.txt"], dest="fetched")
    assert kept.read_text() == "from the session\n"
