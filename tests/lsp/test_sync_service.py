"""SyncService against a real embedded session: one failing file is reported, the rest go on;
a session re-created from scratch gets everything again."""

from __future__ import annotations

from pathlib import Path

from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.sync_plan import LocalFile
from bai_bridge.lsp.sync_service import SyncService


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
