"""SyncService against a real embedded session: one failing file is reported, the rest go on;
a session re-created from scratch gets everything again; a session file is replaced or deleted
only when its content is still what sync put there."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from bai_bridge.api import Kernel
from bai_bridge.api.transfer import UPLOAD_FILE_LIMIT
from bai_bridge.lsp import sync_scan
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.landing import LocalChanged
from bai_bridge.lsp.remote_files import remote_stats
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.sync_plan import LocalFile, file_digest
from bai_bridge.lsp.sync_service import (
    UNPROVEN,
    UPLOAD_BATCH,
    UPLOADS_IN_FLIGHT,
    SyncService,
    _in_turns,
    _large_first,
)


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

    (root / "c.py").write_text("# c.py, edited here\n")
    result = await service.sync_workspace()
    assert result.uploaded == ["b.py"]
    # a.py is there as it is here (sent, not recorded): recorded, not asked about; c.py is
    # there, not put there by sync, and not what is here
    assert result.conflicts == ["c.py"]
    assert result.unchanged == 1
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

    result = await service.sync_workspace()  # all there as here, though not recorded
    assert (result.uploaded, result.conflicts) == ([], [])
    assert result.unchanged == len(sent)


def test_batches_are_sent_in_turns_from_stretches_of_the_workspace() -> None:
    """The requests in flight write into different folders: each takes the next batch of
    its own stretch; every batch is sent once."""
    assert _in_turns(7, 3) == [0, 3, 6, 1, 4, 2, 5]
    assert _in_turns(2, 3) == [0, 1]
    assert _in_turns(0, 3) == []
    for count in range(40):
        assert sorted(_in_turns(count, UPLOADS_IN_FLIGHT)) == list(range(count))


def test_a_large_file_goes_first_alone_and_the_small_ones_keep_their_order() -> None:
    """Its chunks are on their way, and joined in the session, while the small files go."""
    files = [
        LocalFile("a.py", 10, "-"),
        LocalFile("data/big.bin", UPLOAD_FILE_LIMIT, "-"),
        LocalFile("b.py", UPLOAD_FILE_LIMIT - 1, "-"),
    ]
    large, small = _large_first(files)
    assert [f.path for f in large] == ["data/big.bin"]
    assert [f.path for f in small] == ["a.py", "b.py"]


async def session_output(kernel: Kernel, code: str) -> str:
    out = []
    async for result in kernel.run(code):
        out += [item.text for item in result.console if item.kind == "stdout"]
    return "".join(out)


KEEP_STAT_EDIT = """
import os
for name, text in {edits!r}.items():
    st = os.stat(name)
    with open(name, "w") as f:
        f.write(text)
    os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns))  # as cp -p, tar x, rsync -t do
"""


def spying(request: Callable[..., Any], paths: list[str]) -> Callable[..., Any]:
    """``request`` as it is, each request's path noted."""

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        paths.append(path)
        return request(method, path, **kwargs)

    return spy


async def test_a_session_edit_that_keeps_size_and_mtime_is_neither_overwritten_nor_deleted(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "workspace"
    root.mkdir()
    big = b"B" * (600 * 1024)  # compared by a run in the session, not a download
    for name in ("a.py", "b.py", "c.py", "d.py"):
        (root / name).write_text(f"{name[0]} = 1\n")
    (root / "big.bin").write_bytes(big)
    service = SyncService(root, BridgeOptions(), sessions)
    flagged: list[str] = []
    service.on_conflicts = lambda conflicts: flagged.extend(c.path for c in conflicts)
    first = await service.sync_workspace()
    assert sorted(first.uploaded) == ["a.py", "b.py", "big.bin", "c.py", "d.py"]

    kernel = await sessions.kernel()
    edits = {"a.py": "a = 2\n", "b.py": "b = 2\n", "c.py": "c = 2\n", "big.bin": "b" * len(big)}
    await session_output(kernel, KEEP_STAT_EDIT.format(edits=edits))
    assert not (await service.sync_workspace()).uploaded  # nothing changed here

    for name in ("a.py", "b.py", "d.py"):
        (root / name).write_text(f"{name[0]} = 3\n")
    (root / "big.bin").write_bytes(b"C" * len(big))
    result = await service.sync_workspace()
    assert result.uploaded == ["d.py"]  # edited here only: sent
    assert result.conflicts == ["a.py", "b.py", "big.bin"]
    assert await service.upload_files(["b.py"]) == []  # a save of it: not sent either
    assert flagged == ["a.py", "b.py", "big.bin"]
    await service.flush()  # the manifest those wrote down, saved behind them
    asked: list[str] = []  # what the session is asked while nothing changes on either side
    monkeypatch.setattr(sessions.api, "request", spying(sessions.api.request, asked))
    again = await service.sync_workspace()
    assert (again.uploaded, again.conflicts) == ([], result.conflicts)
    assert asked
    assert all(path.endswith("/files") for path in asked)  # listings only: no comparing
    monkeypatch.undo()
    (root / "c.py").unlink()
    removed, kept = await service.remove(["c.py", "d.py"])
    assert (removed, kept) == (["d.py"], ["c.py"])

    check = (
        "import os\nprint(sorted((n, open(n).read()[:6]) for n in os.listdir('.') if n[0] != '.'))"
    )
    assert (
        await session_output(kernel, check)
        == str(
            sorted(
                [
                    ("a.py", "a = 2\n"),
                    ("b.py", "b = 2\n"),
                    ("big.bin", "bbbbbb"),
                    ("c.py", "c = 2\n"),
                ]
            )
        )
        + "\n"
    )


async def test_a_name_the_session_reads_as_another_path_is_refused_not_written(
    sessions: SessionManager, tmp_path: Path
) -> None:
    root = tmp_path / "workspace"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "util.py").write_text("REAL = 1\n")
    (root / "pkg\\util.py").write_text("IMPOSTOR = 1\n")  # the session would write pkg/util.py
    service = SyncService(root, BridgeOptions(), sessions)
    told: list[dict[str, str]] = []
    service.on_problems = told.append
    result = await service.sync_workspace()
    assert result.uploaded == ["pkg/util.py"]
    assert result.failed == ["pkg\\util.py"]
    assert "backslash" in told[0]["pkg\\util.py"]
    assert await service.upload_files(["pkg\\util.py"]) == []  # a save of it: refused too
    assert await service.sync_workspace() == attrs.evolve(result, uploaded=[], unchanged=1)
    kernel = await sessions.kernel()
    assert await session_output(kernel, "print(open('pkg/util.py').read())") == "REAL = 1\n\n"


async def test_a_file_that_cannot_be_compared_behind_a_running_cell_is_held_back(
    sessions: SessionManager, tmp_path: Path
) -> None:
    """Large files are compared by a run, which waits behind the person's cell: none is
    started behind a run of this editor's, a cell from elsewhere is waited for a bounded
    time; the file is neither sent nor asked about, and goes with a save once the session is
    free."""
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "big.bin").write_bytes(b"A" * (600 * 1024))
    service = SyncService(root, BridgeOptions(), sessions)
    assert (await service.sync_workspace()).uploaded == ["big.bin"]
    (root / "big.bin").write_bytes(b"C" * (600 * 1024))

    kernel = await sessions.kernel()
    started = asyncio.Event()
    printed: list[str] = []
    gated = (
        "import os, time\nprint('started', flush=True)\n"
        "while not os.path.exists('gate.txt'):\n    time.sleep(0.05)\nprint('ran to its end')\n"
    )

    async def long_cell() -> None:
        async for result in kernel.run(gated):
            printed.extend(getattr(item, "text", "") for item in result.console)
            if "started\n" in printed:
                started.set()

    cell = asyncio.create_task(long_cell())
    await asyncio.wait_for(started.wait(), 60)
    told: list[dict[str, str]] = []
    service.on_problems = told.append
    sessions.run_started()  # a run of this editor's, as the language server counts them:
    try:  # no comparing run is queued behind it at all
        assert await asyncio.wait_for(service.upload_files(["big.bin"]), 30) == []
    finally:
        sessions.run_finished()
    service.hash_wait = 1.0  # a cell run from elsewhere: a bounded wait
    assert await service.upload_files(["big.bin"]) == []
    assert told == [{"big.bin": UNPROVEN}] * 2
    (tmp_path / "gate.txt").write_text("go\n")  # uploads do not wait behind a cell
    await kernel.upload([tmp_path / "gate.txt"], basedir=tmp_path)
    await asyncio.wait_for(cell, 60)
    # the comparing run that gave up waiting left the other cell alone (it interrupted it)
    assert "ran to its end\n" in printed, printed
    (root / "small.py").write_text("S = 1\n")
    sent = await service.upload_files(["small.py"])  # the next save tries the held file again
    assert sorted(sent) == ["big.bin", "small.py"]


async def test_a_file_only_touched_in_the_session_is_no_conflict(
    sessions: SessionManager, tmp_path: Path
) -> None:
    """A new mtime with the content sync sent (`touch`, a checkout there): the content shows
    nothing was changed, so a local edit goes, and an unchanged file is simply recorded."""
    root = tmp_path / "workspace"
    root.mkdir()
    for name in ("a.py", "b.py"):
        (root / name).write_text(f"{name[0]} = 1\n")
    service = SyncService(root, BridgeOptions(), sessions)
    assert (await service.sync_workspace()).uploaded == ["a.py", "b.py"]
    kernel = await sessions.kernel()
    await session_output(
        kernel, "import os\nfor n in ('a.py', 'b.py'):\n    os.utime(n, (1e9, 1e9))\n"
    )
    (root / "a.py").write_text("a = 22\n")
    result = await service.sync_workspace()
    assert (result.uploaded, result.conflicts, result.unchanged) == (["a.py"], [], 1)
    assert await session_output(kernel, "print(open('a.py').read())") == "a = 22\n\n"


async def test_a_held_back_file_goes_once_this_editors_run_is_over(
    sessions: SessionManager, tmp_path: Path
) -> None:
    """Not compared behind a run of this editor's, the file is pending; when the session is
    idle again it goes by itself, without waiting for the next save."""
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "big.bin").write_bytes(b"A" * (600 * 1024))
    service = SyncService(root, BridgeOptions(), sessions)
    sessions.on_available.append(service.resume)
    assert (await service.sync_workspace()).uploaded == ["big.bin"]
    (root / "big.bin").write_bytes(b"C" * (600 * 1024))
    kernel = await sessions.kernel()
    before = (await remote_stats(kernel, ["big.bin"]))["big.bin"]
    worker = asyncio.create_task(service.save_worker())
    try:
        sessions.run_started()  # a run of this editor's: nothing is compared behind it
        try:
            assert await service.upload_files(["big.bin"]) == []
        finally:
            sessions.run_finished()  # idle again
        async with asyncio.timeout(60):  # the session tells nobody of uploads: poll it
            while True:
                if (await remote_stats(kernel, ["big.bin"]))["big.bin"] != before:
                    break
                await asyncio.sleep(0.1)
    finally:
        worker.cancel()
    assert await session_output(kernel, "print(open('big.bin').read(3))") == "CCC\n"


async def test_keeping_the_sessions_copy_spares_a_local_file_changed_since_it_was_asked(
    sessions: SessionManager, tmp_path: Path
) -> None:
    """keep-remote lands like a download: over the local file the person was asked about,
    not over one edited after that."""
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "a.py").write_text("A = 1\n")
    service = SyncService(root, BridgeOptions(), sessions)
    assert (await service.sync_workspace()).uploaded == ["a.py"]
    kernel = await sessions.kernel()
    await session_output(kernel, "open('a.py', 'w').write('A = 2  # session\\n')")
    (root / "a.py").write_text("A = 3  # here\n")
    assert await service.upload_files(["a.py"]) == []
    assert list(service.conflicts) == ["a.py"]

    (root / "a.py").write_text("A = 4  # here, after the question\n")
    with pytest.raises(LocalChanged):
        await service.keep_remote("a.py")
    assert (root / "a.py").read_text() == "A = 4  # here, after the question\n"
    assert list(service.conflicts) == ["a.py"]

    assert await service.upload_files(["a.py"]) == []  # asked again about this content
    await service.keep_remote("a.py")
    assert (root / "a.py").read_text() == "A = 2  # session\n"
    assert service.conflicts == {}
    assert await service.upload_files(["a.py"]) == []
    assert (await service.sync_workspace()).unchanged == 1


async def test_a_forced_upload_lists_the_session_only_to_record_what_it_sent(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "run_me.py").write_text("print(1)\n")
    service = SyncService(root, BridgeOptions(), sessions)
    await service.sync_workspace()
    await service.flush()  # its manifest, saved behind it
    (root / "run_me.py").write_text("print(2)\n")
    asked: list[str] = []
    monkeypatch.setattr(sessions.api, "request", spying(sessions.api.request, asked))
    assert await service.upload_files(["run_me.py"], force=True) == ["run_me.py"]
    await service.flush()
    monkeypatch.undo()
    # the upload, then the listing and the manifest that record it: no listing before
    assert [p.rsplit("/", 1)[-1] for p in asked] == ["upload", "files", "upload"]
    kernel = await sessions.kernel()
    assert await session_output(kernel, "print(open('run_me.py').read(), end='')") == "print(2)\n"


async def test_an_upload_returns_with_its_file_there_and_its_record_follows(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What waits for an upload (a run of the file, a save) waits for the upload alone; the
    listing and the manifest that record it follow, and the next operation does not wait
    for them either: until the record lands, it judges that copy by its content. A new
    language server finds the record in the session."""
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "run_me.py").write_text("print(1)\n")
    service = SyncService(root, BridgeOptions(), sessions)
    await service.sync_workspace()
    await service.flush()  # its record, written behind it
    (root / "run_me.py").write_text("print(2)\n")
    release = asyncio.Event()
    request = sessions.api.request
    held_paths: list[str] = []

    def held(method: str, path: str, **kwargs: Any) -> Any:
        inner = request(method, path, **kwargs)
        if not path.endswith("/files") or held_paths:
            return inner
        held_paths.append(path)  # the first listing: the upload's record

        @contextlib.asynccontextmanager
        async def after_release() -> AsyncIterator[Any]:
            await release.wait()
            async with inner as resp:
                yield resp

        return after_release()

    monkeypatch.setattr(sessions.api, "request", held)
    async with asyncio.timeout(30):  # returns while its record's listing is held
        assert await service.upload_files(["run_me.py"], force=True) == ["run_me.py"]
    kernel = await sessions.kernel()
    assert await session_output(kernel, "print(open('run_me.py').read(), end='')") == "print(2)\n"
    async with asyncio.timeout(30):  # the record is still held: the content decides
        result = await service.sync_workspace()
    assert (result.uploaded, result.conflicts, result.unchanged) == ([], [], 1)
    assert held_paths  # the record's listing, still held
    release.set()
    await service.flush()
    monkeypatch.undo()

    restarted = SyncService(root, BridgeOptions(), sessions)  # reads the session's manifest
    result = await restarted.sync_workspace()
    assert (result.uploaded, result.conflicts, result.unchanged) == ([], [], 1)


async def test_a_sync_sends_a_file_proven_by_content_before_every_folder_is_listed(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file edited here whose session copy the early fetch shows as sync sent it goes at
    once (the listings are held until an upload is asked for: a sync that waited for them
    would never finish); one edited in the session, size and mtime kept, is not sent."""
    root = tmp_path / "workspace"
    (root / "pkg").mkdir(parents=True)
    for name in ("a.py", "pkg/b.py", "pkg/c.py"):
        (root / name).write_text(f"# {name}\n")
    service = SyncService(root, BridgeOptions(), sessions)
    assert len((await service.sync_workspace()).uploaded) == 3
    await service.flush()
    (root / "pkg/b.py").write_text("b = 2\n")
    monkeypatch.setattr(sessions.api, "request", held_until_upload(sessions.api.request))
    async with asyncio.timeout(30):
        result = await service.sync_workspace()
    monkeypatch.undo()
    assert (result.uploaded, result.conflicts, result.unchanged) == (["pkg/b.py"], [], 2)
    kernel = await sessions.kernel()
    read = "print(open('pkg/b.py').read(), end='')"
    assert await session_output(kernel, read) == "b = 2\n"

    await session_output(kernel, KEEP_STAT_EDIT.format(edits={"pkg/b.py": "b = 9\n"}))
    (root / "pkg/b.py").write_text("b = 3\n")
    result = await service.sync_workspace()
    assert (result.uploaded, result.conflicts) == ([], ["pkg/b.py"])
    assert await session_output(kernel, read) == "b = 9\n"


async def test_a_sync_asks_for_an_edited_files_proof_while_its_scan_reads_the_rest(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan tells each file it reads anew as soon as it has read it: the session's copy
    of an edited file is fetched while the scan still reads the files after it (a read held
    until a download is asked for would never end), and the file goes on that proof."""
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "a.py").write_text("a = 1\n")
    service = SyncService(root, BridgeOptions(), sessions)
    assert (await service.sync_workspace()).uploaded == ["a.py"]
    await service.flush()  # its record, written behind it
    (root / "a.py").write_text("a = 2\n")  # edited: the proof is its session copy's content
    (root / "b.py").write_text("b = 1\n")  # new: read after a.py
    asked = threading.Event()
    request = sessions.api.request

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        if path.endswith("/download"):
            asked.set()
        return request(method, path, **kwargs)

    def digest(path: Path | str) -> tuple[int, str]:
        if str(path).endswith("b.py") and not asked.wait(10):
            raise OSError("no proof was asked for while the files were read")
        return file_digest(path)

    monkeypatch.setattr(sessions.api, "request", spy)
    monkeypatch.setattr(sync_scan, "file_digest", digest)
    async with asyncio.timeout(60):
        result = await service.sync_workspace()
    monkeypatch.undo()
    assert (result.uploaded, result.failed, result.conflicts) == (["a.py", "b.py"], [], [])
    kernel = await sessions.kernel()
    assert await session_output(kernel, "print(open('a.py').read(), end='')") == "a = 2\n"


def held_until_upload(request: Callable[..., Any]) -> Callable[..., Any]:
    """``request``, with each listing's answer held until an upload has been asked for."""
    upload_asked = asyncio.Event()

    @contextlib.asynccontextmanager
    async def held(inner: Any) -> AsyncIterator[Any]:
        await upload_asked.wait()
        async with inner as resp:
            yield resp

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        if path.endswith("/upload"):
            upload_asked.set()
        inner = request(method, path, **kwargs)
        return held(inner) if path.endswith("/files") else inner

    return spy


def held_listings(request: Callable[..., Any]) -> Callable[..., Any]:
    """``request``, with each listing's answer held until a download has been asked for:
    a save that fetched its proof only after the listing answered would never finish."""
    download_asked = asyncio.Event()

    @contextlib.asynccontextmanager
    async def held(inner: Any) -> AsyncIterator[Any]:
        await download_asked.wait()
        async with inner as resp:
            yield resp

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        if path.endswith("/download"):
            download_asked.set()
        inner = request(method, path, **kwargs)
        return held(inner) if path.endswith("/files") else inner

    return spy


async def test_a_save_fetches_its_proof_beside_the_listing_and_still_never_overwrites(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "workspace"
    root.mkdir()
    (root / "a.py").write_text("a = 1\n")
    service = SyncService(root, BridgeOptions(), sessions)
    flagged: list[str] = []
    service.on_conflicts = lambda conflicts: flagged.extend(c.path for c in conflicts)
    assert (await service.sync_workspace()).uploaded == ["a.py"]
    await service.flush()  # its record, written behind it
    kernel = await sessions.kernel()
    read = "print(open('a.py').read(), end='')"

    (root / "a.py").write_text("a = 2\n")  # a save: the session's copy is as sync left it
    monkeypatch.setattr(sessions.api, "request", held_listings(sessions.api.request))
    async with asyncio.timeout(30):
        assert await service.upload_files(["a.py"]) == ["a.py"]
        await service.flush()
    monkeypatch.undo()
    assert await session_output(kernel, read) == "a = 2\n"

    # edited in the session, size and mtime kept: the early fetch shows it, nothing is sent
    await session_output(kernel, KEEP_STAT_EDIT.format(edits={"a.py": "a = 9\n"}))
    (root / "a.py").write_text("a = 3\n")
    monkeypatch.setattr(sessions.api, "request", held_listings(sessions.api.request))
    async with asyncio.timeout(30):
        assert await service.upload_files(["a.py"]) == []
    monkeypatch.undo()
    assert flagged == ["a.py"]
    assert await session_output(kernel, read) == "a = 9\n"


async def test_a_sync_lists_the_folders_while_it_reads_the_files(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan tells its folders before it reads a file: their listings are asked for
    while the files are read (a read held until a listing is asked for would never end)."""
    root = tmp_path / "workspace"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("a = 1\n")
    service = SyncService(root, BridgeOptions(), sessions)
    await sessions.kernel()
    listed = threading.Event()
    fetch_json = sessions.api.fetch_json

    def spy(method: str, path: str, **kwargs: Any) -> Any:
        if path.endswith("/files") and kwargs.get("json_body", {}).get("path") == "pkg":
            listed.set()
        return fetch_json(method, path, **kwargs)

    def digest(path: Path | str) -> tuple[int, str]:
        if not listed.wait(30):
            raise OSError("no listing was asked for while the files were read")
        return file_digest(path)

    monkeypatch.setattr(sessions.api, "fetch_json", spy)
    monkeypatch.setattr(sync_scan, "file_digest", digest)
    async with asyncio.timeout(60):
        result = await service.sync_workspace()
    assert (result.uploaded, result.failed) == (["pkg/a.py"], [])
