"""The watcher's pure parts: when to register, what to watch, which files an event means."""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path

from bai_bridge.api import APIConfig, APISession
from bai_bridge.lsp.config import DEFAULT_EXCLUDES, BridgeOptions
from bai_bridge.lsp.server import BridgeServer, create_server
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.sync_plan import files_in_place
from bai_bridge.lsp.sync_service import SyncService
from bai_bridge.lsp.tasks import BackgroundTasks
from bai_bridge.lsp.watch import can_watch, files_under, watcher_for


def server_with(watched: types.DidChangeWatchedFilesClientCapabilities | None) -> BridgeServer:
    server = create_server()
    workspace = types.WorkspaceClientCapabilities(did_change_watched_files=watched)
    server.protocol.client_capabilities = types.ClientCapabilities(workspace=workspace)
    return server


def test_only_a_client_that_registers_watchers_dynamically_is_asked() -> None:
    assert not can_watch(server_with(None))
    static = types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=False)
    assert not can_watch(server_with(static))
    dynamic = types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True)
    assert can_watch(server_with(dynamic))


def test_the_watcher_is_relative_to_the_folder_when_the_client_can(tmp_path: Path) -> None:
    plain = types.DidChangeWatchedFilesClientCapabilities(dynamic_registration=True)
    assert watcher_for(server_with(plain), tmp_path).glob_pattern == f"{tmp_path}/**/*"
    relative = types.DidChangeWatchedFilesClientCapabilities(
        dynamic_registration=True, relative_pattern_support=True
    )
    pattern = watcher_for(server_with(relative), tmp_path).glob_pattern
    assert pattern == types.RelativePattern(base_uri=from_fs_path(str(tmp_path)), pattern="**/*")


def uri(path: Path) -> str:
    text = from_fs_path(str(path))
    assert text is not None
    return text


def test_a_folder_moved_in_whole_means_its_files_without_excluded_ones(tmp_path: Path) -> None:
    for rel in ("new/a.py", "new/deep/b.py", "new/__pycache__/a.pyc", "new/out/x.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    (tmp_path / "new" / ".gitignore").write_text("out/\n")
    os.symlink(tmp_path / "new" / "a.py", tmp_path / "new" / "link.py")
    (tmp_path / "node_modules" / "m").mkdir(parents=True)
    (tmp_path / "node_modules" / "m" / "i.js").write_text("x")

    rels = ["new", "node_modules", "single.py"]
    found = files_under(tmp_path, DEFAULT_EXCLUDES, rels)
    assert sorted(found) == ["new/.gitignore", "new/a.py", "new/deep/b.py", "single.py"]


def test_a_download_is_in_place_only_where_it_lands_at_its_session_path(tmp_path: Path) -> None:
    for rel in ("r.txt", "out/r.txt", "runs/1/log.txt", "runs/1/deep/m.bin"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert files_in_place(tmp_path, tmp_path, ["r.txt", "/abs/r.txt", "../r.txt"]) == ["r.txt"]
    assert files_in_place(tmp_path, tmp_path / "out", ["r.txt"]) == []  # out/r.txt != r.txt
    assert files_in_place(tmp_path, tmp_path / "out", ["out/r.txt"]) == ["out/r.txt"]
    found = files_in_place(tmp_path, tmp_path, ["runs"])
    assert sorted(found) == ["runs/1/deep/m.bin", "runs/1/log.txt"]


async def test_changes_to_excluded_files_only_never_reach_for_a_session(tmp_path: Path) -> None:
    """A checkout or `git status` churns .git/: that must not start (or re-create) a session.
    Nobody listens at the endpoint and the API session is not even open."""
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "index").write_bytes(b"\0")
    (tmp_path / ".gitignore").write_text("build/\n")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "out.o").write_bytes(b"\0")
    config = APIConfig(endpoint="http://127.0.0.1:9", access_key="AKIA", secret_key="s", env={})
    tasks = BackgroundTasks()
    api = APISession(config)  # never opened: any request would fail
    sessions = SessionManager(api, BridgeOptions(), "watch-idle", tasks, lambda _: None)
    service = SyncService(tmp_path, BridgeOptions(), sessions)
    sent = await service.upload_files([".git/index", "build/out.o", "vanished.py"])
    assert sent == []
    assert sessions.kernel_if_ready is None
    await tasks.cancel_all()
