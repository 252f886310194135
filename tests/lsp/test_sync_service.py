"""SyncService against a real embedded session: one failing file is reported, the rest go on;
a session re-created from scratch gets everything again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bai_bridge.api import APIConfig, APISession
from bai_bridge.local.serve import RunningServer
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.protocol import SessionStatus
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.sync_plan import LocalFile
from bai_bridge.lsp.sync_service import SyncService
from bai_bridge.lsp.tasks import BackgroundTasks


@pytest.fixture
async def sessions(local_server: RunningServer) -> AsyncIterator[SessionManager]:
    config = APIConfig(
        endpoint=local_server.endpoint,
        access_key=local_server.access_key,
        secret_key=local_server.secret_key,
    )
    tasks = BackgroundTasks()
    statuses: list[SessionStatus] = []
    async with APISession(config) as api:
        manager = SessionManager(api, BridgeOptions(), "sync-service", tasks, statuses.append)
        try:
            yield manager
        finally:
            await manager.close()
            await tasks.cancel_all()


async def test_one_failing_file_is_reported_and_the_rest_go_on(
    sessions: SessionManager, tmp_path: Path
) -> None:
    root = tmp_path / "workspace"
    root.mkdir()
    for name in ("a.py", "b.py", "c.py"):
        (root / name).write_text(f"# {name}\n")
    service = SyncService(root, BridgeOptions(), sessions)
    failures: list[str] = []
    service.on_failure = lambda path, error: failures.append(path)
    kernel = await sessions.kernel()
    files = [LocalFile(n, 6, "-") for n in ("a.py", "gone.py", "c.py")]  # gone.py vanished
    sent, failed = await service._upload(kernel, files, lambda _m, _p: None)
    assert sent == ["a.py", "c.py"]
    assert failed == failures == ["gone.py"]

    result = await service.sync_workspace()
    assert result.uploaded == ["b.py"]
    assert result.conflicts == ["a.py", "c.py"]  # there, but not put there by sync itself
    await kernel.destroy()
    sessions.forget("destroyed by the test")
    service.forget_session()
    again = await service.sync_workspace()
    assert sorted(again.uploaded) == ["a.py", "b.py", "c.py"]
    assert (await service.sync_workspace()).uploaded == []

    (root / ".gitignore").write_text("scratch/\n")
    (root / "scratch").mkdir()
    (root / "scratch" / "notes.txt").write_text("private\n")
    assert await service.upload_files(["scratch/notes.txt"]) == []  # a save of it: ignored
    assert await service.upload_files(["scratch/notes.txt"], force=True) == ["scratch/notes.txt"]
