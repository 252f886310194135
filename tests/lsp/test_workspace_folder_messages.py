"""Each workspace folder syncs and fails on its own, and what sync tells the person names the
folder of the file: a folder whose place in the session cannot hold it (a file is there) is
named once while the folders after it sync; files of a non-first folder are named as the
session has them (`lib/data.txt`), and what is said once is said once per folder, so two
folders' files of the same relative path are each told."""

from __future__ import annotations

from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import (
    Recorder,
    command,
    field,
    folder_with,
    in_session,
    initialize,
    open_doc,
    run_selection,
    uri_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

CAP = 1000  # maxFileSize: a file over it is not synced, and said so
OPTIONS = {"syncOnStart": False, "maxFileSize": CAP}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return folder_with(tmp_path_factory, f"home-{profile}", {"main.py": "print('main')\n"})


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return folder_with(tmp_path_factory, f"broken-{profile}", {"b.py": "B = 1\n"})


@pytest.fixture(scope="module")
def fine(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return folder_with(tmp_path_factory, f"fine-{profile}", {"f.py": "F = 1\n"})


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bridge(client: LanguageClient, workspace: Path, broken: Path, fine: Path) -> Recorder:
    return await initialize(client, workspace, OPTIONS, folders=[broken, fine])


def told(client: LanguageClient, since: int, words: str) -> list[str]:
    return [m.message for m in client.messages[since:] if words in m.message]


async def test_a_folder_that_fails_is_named_once_and_the_others_sync(
    client: LanguageClient, bridge: Recorder, workspace: Path, broken: Path, fine: Path
) -> None:
    # a file where the broken folder's place would be: nothing of it can land there
    block = f"print(open({broken.name!r}, 'w').write('in the way'))"
    assert await in_session(client, bridge, workspace, block) == len("in the way")
    shown = len(client.messages)
    result = await command(client, protocol.SYNC_WORKSPACE)
    assert result is not None
    assert f"{fine.name}/f.py" in field(result, "uploaded")
    assert "main.py" in field(result, "uploaded")
    failures = [m for m in client.messages[shown:] if "failed" in m.message]
    assert len(failures) == 1, failures
    assert broken.name in failures[0].message
    assert field(result, "failed") == [f"{broken.name}/"]
    landed = f"import json; print(json.dumps(open({fine.name + '/f.py'!r}).read()))"
    assert await in_session(client, bridge, workspace, landed) == "F = 1\n"


def save(client: LanguageClient, path: Path) -> None:
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri_of(path)))
    )


async def test_a_save_that_fails_names_its_folder(
    client: LanguageClient, bridge: Recorder, broken: Path
) -> None:
    shown = len(client.messages)
    save(client, broken / "b.py")  # its place is still a file in the session
    (failure,) = await bridge.wait_for(
        "the failure", lambda: told(client, shown, "failed"), limit=30
    )
    assert f"syncing {broken.name}: b.py failed" in failure


async def test_a_run_that_cannot_move_to_its_folder_is_told_once(
    client: LanguageClient, bridge: Recorder, workspace: Path, broken: Path
) -> None:
    shown = len(client.messages)
    uri = open_doc(client, broken / "where.py", "import os; print(os.getcwd())\n")
    for _ in range(3):  # its place is still a file in the session: each run fails to move
        done = await run_selection(client, uri, 0)
        assert field(done, "status") == "finished", bridge.text(field(done, "runId"), "stderr")
    (said,) = told(client, shown, "runs where the kernel is")
    assert f"code from {broken.name} " in said
    assert f"not in /home/work/{broken.name}: " in said
    assert "File exists" in said  # the kernel's reason

    removed = f"import os; os.remove({broken.name!r}); print(1)"
    assert await in_session(client, bridge, workspace, removed) == 1
    done = await run_selection(client, uri, 0)
    assert bridge.text(field(done, "runId")).strip().endswith(f"/{broken.name}")  # moved now
    assert len(told(client, shown, "runs where the kernel is")) == 1


async def test_files_of_two_folders_with_one_path_are_each_told_by_their_session_path(
    client: LanguageClient, bridge: Recorder, workspace: Path, fine: Path
) -> None:
    for root in (workspace, fine):
        (root / "big.bin").write_bytes(b"x" * (CAP + 1))
        (root / "a\\b.py").write_text("A = 1\n")
    shown = len(client.messages)
    for root in (workspace, fine):
        save(client, root / "big.bin")
        save(client, root / "a\\b.py")

    def said() -> tuple[list[str], list[str]] | None:
        large, names = told(client, shown, "byte cap"), told(client, shown, "backslash")
        return (large, names) if len(large) == 2 and len(names) == 2 else None

    large, names = await bridge.wait_for("a message of each kind per folder", said)
    assert sorted(m.rsplit(": ", 1)[1] for m in large) == sorted(
        ["big.bin", f"{fine.name}/big.bin"]
    )
    assert any(repr("a\\b.py") in m for m in names)
    assert any(repr(f"{fine.name}/a\\b.py") in m for m in names)
