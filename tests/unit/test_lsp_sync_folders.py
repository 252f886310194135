"""Which workspace folder a file belongs to, and where each folder goes in the session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pygls.uris import from_fs_path

from bai_bridge.api import APIConfig, APISession
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.sync_folders import WORK_DIR, SyncFolder, SyncFolders, outermost, place_for
from bai_bridge.lsp.sync_service import SyncService
from bai_bridge.lsp.tasks import BackgroundTasks


@pytest.fixture
async def sessions() -> AsyncIterator[SessionManager]:
    """A session manager nobody listens behind: these tests never reach a session."""
    config = APIConfig(endpoint="http://127.0.0.1:9", access_key="AKIA", secret_key="s", env={})
    tasks = BackgroundTasks()
    yield SessionManager(APISession(config), BridgeOptions(), "folders", tasks, lambda _: None)
    await tasks.cancel_all()


def folder(sessions: SessionManager, root: Path, place: str) -> SyncFolder:
    worker = asyncio.get_running_loop().create_future()  # called from the tests' loop
    service = SyncService(root.resolve(), BridgeOptions(), sessions)
    return SyncFolder(root.resolve(), place, service, worker)  # type: ignore[arg-type]


def uri(path: Path) -> str:
    text = from_fs_path(str(path))
    assert text is not None
    return text


async def test_a_file_belongs_to_the_deepest_folder_holding_it(
    tmp_path: Path, sessions: SessionManager
) -> None:
    outer, inner, other = tmp_path / "proj", tmp_path / "proj" / "lib", tmp_path / "other"
    for path in (inner / "pkg", other):
        path.mkdir(parents=True)
    folders = SyncFolders()
    for made in [
        folder(sessions, outer, WORK_DIR),
        folder(sessions, inner, "lib"),
        folder(sessions, other, "other"),
    ]:
        folders.add(made)
    found = folders.of_uri(uri(inner / "pkg" / "a.py"))
    assert found is not None
    assert (found[0].root, found[1]) == (inner.resolve(), "pkg/a.py")
    found = folders.of_uri(uri(outer / "gone.py"))  # deleted files too
    assert found is not None
    assert (found[0].place, found[1]) == (WORK_DIR, "gone.py")
    assert folders.of_uri(uri(outer)) is None  # a folder itself is no file of it
    assert folders.of_uri(uri(tmp_path / "elsewhere" / "b.py")) is None
    os.symlink(tmp_path / "elsewhere", outer / "escape")
    assert folders.of_uri(uri(outer / "escape" / "c.py")) is None


async def test_session_paths_go_back_to_their_folder(
    tmp_path: Path, sessions: SessionManager
) -> None:
    folders = SyncFolders()
    first = folder(sessions, tmp_path / "a", WORK_DIR)
    second = folder(sessions, tmp_path / "b", "b")
    folders.add(first)
    folders.add(second)
    assert second.remote("x/y.py") == "b/x/y.py"
    assert first.remote("x/y.py") == "x/y.py"
    assert folders.of_session_path("b/x/y.py") == (second, "x/y.py")
    assert folders.of_session_path("bb/y.py") == (first, "bb/y.py")
    assert folders.of_session_path("y.py") == (first, "y.py")
    folders.remove(tmp_path / "a")
    assert folders.of_session_path("y.py") is None  # the work dir's folder left
    assert folders.first is None
    assert folders.home == second


def test_a_place_is_the_folder_name_unique_among_places_and_the_first_folders_files(
    tmp_path: Path,
) -> None:
    first = tmp_path / "main"
    (first / "data").mkdir(parents=True)
    (first / "notes.txt").write_text("x")
    assert place_for(tmp_path / "x" / "lib", [], first) == "lib"
    assert place_for(tmp_path / "y" / "lib", ["lib"], first) == "lib-2"
    assert place_for(tmp_path / "y" / "lib", ["lib", "lib-2"], first) == "lib-3"
    assert place_for(tmp_path / "z" / "data", [], first) == "data-2"  # main/data is there
    assert place_for(tmp_path / "z" / "notes.txt", [], first) == "notes.txt-2"
    assert place_for(tmp_path / ".bai-bridge", [], None) == ".bai-bridge-2"


def test_a_folder_inside_another_is_synced_as_part_of_it(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert outermost([a / "sub", b, a, b, c / "x" / "y"]) == [b, a, c / "x" / "y"]
    assert outermost([a, tmp_path / "ab"]) == [a, tmp_path / "ab"]  # a prefix is no parent
