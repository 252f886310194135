"""SyncService against a real embedded session: one failing file is reported, the rest go on;
a session re-created from scratch gets everything again."""

from __future__ import annotations

from pathlib import Path

from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.remote_files import remote_stats
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.sync_plan import LocalFile
from bai_bridge.lsp.sync_service import UPLOAD_BATCH, UPLOADS_IN_FLIGHT, SyncService, _in_turns


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


async def test_batches_in_flight_together_keep_order_and_report_one_bad_file(
    sessions: SessionManager, tmp_path: Path
) -> None:
    """More batches than requests in flight, a vanished file in a middle one: the rest of
    that batch and every other batch arrive, results in the files' order, all recorded."""
    root = tmp_path / "workspace"
    names = [f"pkg{i // 15}/m{i:03d}.py" for i in range(UPLOAD_BATCH * (UPLOADS_IN_FLIGHT + 2))]
    gone = names[UPLOAD_BATCH * 2 + 3]
    for name in names:
        if name != gone:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(f"# {name}\n")
    service = SyncService(root, BridgeOptions(), sessions)
    failures: list[str] = []
    service.on_failure = lambda path, error: failures.append(path)
    kernel = await sessions.kernel()
    files = [LocalFile(n, 0, "-") for n in names]
    sent, failed = await service._upload(kernel, files, lambda _m, _p: None)
    assert sent == [n for n in names if n != gone]
    assert failed == failures == [gone]
    listed = await remote_stats(kernel, names)
    assert sorted(listed) == sorted(sent)
    assert all(listed[n].size == len(f"# {n}\n") for n in sent)

    result = await service.sync_workspace()  # all there, none put there by sync: conflicts
    assert result.uploaded == []
    assert sorted(result.conflicts) == sorted(sent)


def test_batches_are_sent_in_turns_from_stretches_of_the_workspace() -> None:
    """The requests in flight write into different folders: each takes the next batch of
    its own stretch; every batch is sent once."""
    assert _in_turns(7, 3) == [0, 3, 6, 1, 4, 2, 5]
    assert _in_turns(2, 3) == [0, 1]
    assert _in_turns(0, 3) == []
    for count in range(40):
        assert sorted(_in_turns(count, UPLOADS_IN_FLIGHT)) == list(range(count))
