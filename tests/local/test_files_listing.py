"""list_files through the real session route: a small folder (listed in the event loop) and
a large one (listed in a worker thread) answer alike; a folder that cannot be listed says why."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bai_bridge.local.context import CONTEXT
from bai_bridge.local.files_threads import SMALL_DIR_BYTES
from bai_bridge.local.serve import RunningServer
from serverkit import SignedClient

IMAGE = "python:3.11-ubuntu20.04"


@pytest.fixture
async def work(client: SignedClient, local_server: RunningServer) -> Path:
    created = await client.create("listing-sess", IMAGE)
    sessions = local_server.app[CONTEXT].config.data_dir / "sessions"
    return sessions / created["sessionId"] / "work"


def fill(folder: Path, count: int) -> dict[str, int]:
    folder.mkdir()
    sizes = {}
    for i in range(count):
        name = f"a-rather-long-file-name-{i:05d}.py"
        (folder / name).write_bytes(b"x" * i)
        sizes[name] = i
    return sizes


async def listed(client: SignedClient, path: str) -> tuple[dict[str, int], str]:
    reply = await client.request("GET", "/session/listing-sess/files", json_body={"path": path})
    assert reply.status == 200
    answer = reply.json()
    files = {f["filename"]: f["size"] for f in json.loads(answer["files"] or "[]")}
    return files, answer["errors"]


async def test_small_and_large_folders_list_alike(client: SignedClient, work: Path) -> None:
    small = await asyncio.to_thread(fill, work / "small", 20)
    large = await asyncio.to_thread(fill, work / "large", 1500)
    assert (work / "small").stat().st_size <= SMALL_DIR_BYTES < (work / "large").stat().st_size
    assert await listed(client, "small") == (small, "")
    assert await listed(client, "large") == (large, "")


async def test_a_missing_folder_answers_why(client: SignedClient, work: Path) -> None:
    files, errors = await listed(client, "nowhere")
    assert files == {}
    assert "nowhere" in errors
