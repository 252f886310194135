"""A session seen from a folder of its work dir (a multi-root workspace's folder), against
the embedded server: files land, list, come back and batch commands run in that folder."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_support import Embedded

from bai_bridge.api import APISession, BatchOptions
from bai_bridge.api.download import fetch_digests
from bai_bridge.api.errors import BackendNotFoundError
from bai_bridge.api.folder_view import in_folder
from bai_bridge.api.kernel import Kernel
from bai_bridge.api.listing import file_stats
from bai_bridge.api.transfer import batch_output
from bai_bridge.api.upload import upload

FOLDER = "proj b"  # a space: every command quotes it


@pytest.fixture
async def kernel(embedded: Embedded) -> AsyncIterator[Kernel]:
    async with APISession(embedded.client("v8.20240915")) as api:
        kernel = await api.Kernel.get_or_create("python")
        try:
            yield kernel
        finally:
            with contextlib.suppress(BackendNotFoundError):
                await kernel.destroy()


def files(root: Path, contents: dict[str, bytes]) -> list[Path]:
    for rel, data in contents.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return [root / rel for rel in contents]


async def test_files_go_to_the_folder_and_come_back_from_it(kernel: Kernel, tmp_path: Path) -> None:
    view = in_folder(kernel, FOLDER)
    assert in_folder(kernel, "") is kernel  # the work dir is the kernel itself
    local = files(tmp_path / "up", {"top.py": b"T = 1\n", "sub/x.txt": b"x\n"})
    await view.upload(local, basedir=tmp_path / "up")
    assert set(await file_stats(kernel, f"{FOLDER}/sub")) == {"x.txt"}
    assert set(await file_stats(view, "sub")) == {"x.txt"}
    assert set(await file_stats(view, ".")) == {"top.py"}
    assert "top.py" not in await file_stats(kernel, ".")  # not in the work dir itself
    assert await file_stats(view, "missing") == {}  # a missing folder of the folder lists empty
    listed = await view.list_files("sub")
    assert [e.filename for e in listed.files] == ["x.txt"]

    await view.download(["sub/x.txt"], tmp_path / "down")
    assert (tmp_path / "down" / "x.txt").read_bytes() == b"x\n"


async def test_digests_are_of_the_folders_files_not_the_work_dirs(
    kernel: Kernel, tmp_path: Path
) -> None:
    """A comparison proves the folder's copy: the work dir's file of the same name is another."""
    view = in_folder(kernel, FOLDER)
    await kernel.upload(files(tmp_path / "top", {"same.txt": b"work dir\n"}), tmp_path / "top")
    await view.upload(files(tmp_path / "in", {"same.txt": b"folder\n"}), tmp_path / "in")
    digests = await fetch_digests(view, ["same.txt"])
    assert digests == {"same.txt": hashlib.sha256(b"folder\n").hexdigest()}
    assert await fetch_digests(kernel, ["same.txt"]) == {
        "same.txt": hashlib.sha256(b"work dir\n").hexdigest()
    }


async def test_batch_commands_run_in_the_folder_and_query_runs_where_they_were(
    kernel: Kernel, tmp_path: Path
) -> None:
    view = in_folder(kernel, FOLDER)
    await view.upload(files(tmp_path, {"a.txt": b"a\n"}), basedir=tmp_path)
    async with asyncio.timeout(60):
        where = await batch_output(view, "pwd; cat a.txt", "asking")
        assert where.splitlines()[0].endswith(f"/{FOLDER}")
        assert where.splitlines()[1] == "a"
        runs = [r async for r in view.run("", mode="batch", opts=BatchOptions(exec="rm a.txt"))]
        assert runs[-1].exit_code == 0
        assert "a.txt" not in await file_stats(view, ".")
        here = await batch_output(kernel, "pwd", "asking")
        assert not here.strip().endswith(f"/{FOLDER}")


async def test_a_large_file_sent_in_chunks_is_joined_in_the_folder(
    kernel: Kernel, tmp_path: Path
) -> None:
    data = bytes(range(256)) * 40
    (big,) = files(tmp_path, {"big.bin": data})
    async with asyncio.timeout(60):
        await upload(kernel, [big], tmp_path, file_limit=1024, into=FOLDER)
        stats = await file_stats(in_folder(kernel, FOLDER), ".")
    assert stats["big.bin"][0] == len(data)
    assert [name for name in stats if "bai-part" in name] == []
