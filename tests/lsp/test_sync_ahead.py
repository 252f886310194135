"""A first sync sends a large file's chunks while the session is still being listed, and
joins them only once the listing says the file may be put in place: chunks of a file in
conflict are removed and the session's copy is left as it was."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bai_bridge.api import Kernel
from bai_bridge.api.upload import CHUNK_SIZE
from bai_bridge.lsp.config import BridgeOptions
from bai_bridge.lsp.session import SessionManager
from bai_bridge.lsp.sync_service import SyncService

WAIT = 60.0
BIG = CHUNK_SIZE + 200_000  # two chunks


def holding_listings(
    request: Callable[..., Any],
    listings: asyncio.Event,
    uploaded: list[str],
    on_upload: Callable[[], None] = lambda: None,
) -> Callable[..., Any]:
    """``request``, with every folder listing held until ``listings`` is set, each upload
    noted in ``uploaded`` once answered (and ``on_upload`` told)."""

    @contextlib.asynccontextmanager
    async def held(method: str, path: str, **kwargs: Any) -> AsyncIterator[Any]:
        if path.endswith("/files"):
            await listings.wait()
        async with request(method, path, **kwargs) as response:
            yield response
        if path.endswith("/upload"):
            uploaded.append(path)
            on_upload()

    return held


async def in_session(kernel: Kernel, code: str) -> str:
    out = []
    async for result in kernel.run(code):
        out += [item.text for item in result.console if item.kind == "stdout"]
    return "".join(out)


def workspace(tmp_path: Path, big: bytes) -> Path:
    root = tmp_path / "workspace"
    (root / "data").mkdir(parents=True)
    (root / "data" / "big.bin").write_bytes(big)
    for i in range(3):
        (root / f"m{i}.py").write_text(f"N = {i}\n")
    return root


async def test_a_large_files_chunks_travel_while_the_session_is_listed(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = bytes(range(256)) * (BIG // 256)
    root = workspace(tmp_path, big)
    listings, chunks_in = asyncio.Event(), asyncio.Event()
    uploaded: list[str] = []

    def counted() -> None:
        if len(uploaded) == 2:
            chunks_in.set()

    held = holding_listings(sessions.api.request, listings, uploaded, counted)
    monkeypatch.setattr(sessions.api, "request", held)
    service = SyncService(root, BridgeOptions(), sessions)
    sync = asyncio.ensure_future(service.sync_workspace())
    try:
        arrived = asyncio.ensure_future(chunks_in.wait())
        async with asyncio.timeout(WAIT):
            await asyncio.wait([sync, arrived], return_when=asyncio.FIRST_COMPLETED)
        assert chunks_in.is_set()  # both chunks are in the session
        assert not sync.done()  # while no listing has been answered
    finally:
        listings.set()
    result = await sync
    assert sorted(result.uploaded) == ["data/big.bin", "m0.py", "m1.py", "m2.py"]
    monkeypatch.undo()
    kernel = await sessions.kernel()
    check = (
        "import hashlib, os\n"
        "print(hashlib.sha256(open('data/big.bin', 'rb').read()).hexdigest())\n"
        "print(sorted(os.listdir('data')))\n"
    )
    digest, names = (await in_session(kernel, check)).splitlines()
    assert digest == hashlib.sha256(big).hexdigest()
    assert names == "['big.bin']"  # joined: no chunk left beside it


async def test_chunks_sent_ahead_of_a_file_in_conflict_are_removed_and_its_copy_kept(
    sessions: SessionManager, tmp_path: Path
) -> None:
    root = workspace(tmp_path, b"L" * BIG)
    kernel = await sessions.kernel()
    theirs = (
        "import os\nos.makedirs('data', exist_ok=True)\n"
        f"open('data/big.bin', 'wb').write(b'S' * {BIG})\n"
    )
    await in_session(kernel, theirs)
    service = SyncService(root, BridgeOptions(), sessions)
    result = await service.sync_workspace()
    assert result.conflicts == ["data/big.bin"]
    assert "data/big.bin" not in result.uploaded
    await service.flush()  # the chunks' removal follows the sync
    check = "import os\nprint(sorted(os.listdir('data')), set(open('data/big.bin', 'rb').read()))\n"
    assert await in_session(kernel, check) == "['big.bin'] {83}\n"  # b'S' only


async def test_a_large_file_the_session_holds_as_it_is_is_not_sent_again(
    sessions: SessionManager, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = workspace(tmp_path, b"x" * BIG)
    first = SyncService(root, BridgeOptions(), sessions)
    await first.sync_workspace()
    await first.flush()  # its manifest in the session
    listings = asyncio.Event()
    listings.set()
    uploaded: list[str] = []
    monkeypatch.setattr(
        sessions.api, "request", holding_listings(sessions.api.request, listings, uploaded)
    )
    (await sessions.kernel()).created = False  # as a language server started again finds it
    again = SyncService(root, BridgeOptions(), sessions)  # reads the manifest afresh
    result = await again.sync_workspace()
    assert (result.uploaded, result.unchanged) == ([], 4)
    await again.flush()  # anything sent ahead would be removed by now
    assert uploaded == []  # nothing was
