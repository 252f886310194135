"""Uploads received in batches: small parts held in memory and written in one thread hop,
large parts streamed, the client's pre-encoded body, through a real aiohttp server.

Whatever the mix, every file lands whole under its name, in order, and a request that
fails leaves no file, no temporary file and no folder behind.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bai_bridge.api.upload import Piece, encode_multipart
from bai_bridge.local.files import FileLimits, multipart_reader, receive_upload
from bai_bridge.local.problems import Problem

MiB = 1 << 20
LIMITS = FileLimits(max_upload_files=20, max_upload_file_size=4 * MiB)


def tree(root: Path) -> dict[str, bytes]:
    """Every file below `root` with its content (temporary files included)."""
    found = {}
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            found[path.relative_to(root).as_posix()] = path.read_bytes()
    return found


def folders(root: Path) -> list[str]:
    return sorted(Path(d).relative_to(root).as_posix() for d, _, _ in os.walk(root))


@pytest.fixture
def finished() -> asyncio.Event:
    """Set when an upload handler has returned or raised (its cleanup done)."""
    return asyncio.Event()


@pytest.fixture
async def server(
    tmp_path: Path, finished: asyncio.Event
) -> AsyncIterator[tuple[TestClient[Any, Any], Path]]:
    work = tmp_path / "work"
    work.mkdir()

    async def upload(request: web.Request) -> web.Response:
        try:
            names = await receive_upload(await multipart_reader(request), work, LIMITS)
        except Problem as e:
            return e.response()
        finally:
            finished.set()
        return web.json_response(names)

    app = web.Application(client_max_size=64 * MiB)
    app.router.add_post("/upload", upload)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client, work


def body_of(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """The client's pre-encoded request body for these (remote name, content) pairs."""
    pieces = [Piece(Path("/unused"), name, 0, len(data)) for name, data in files]
    payload = encode_multipart(pieces, [data for _, data in files])
    assert payload.content_type.startswith("multipart/form-data; boundary=")
    return payload._value, payload.content_type


async def post(client: TestClient[Any, Any], files: list[tuple[str, bytes]]) -> Any:
    body, content_type = body_of(files)
    response = await client.post("/upload", data=body, headers={"Content-Type": content_type})
    return response.status, await response.json(content_type=None)


async def test_the_clients_body_lands_file_by_file_with_awkward_names(server: Any) -> None:
    client, work = server
    files = [
        ("plain.py", b"x = 1\n"),
        ("sub/deeper/mod.py", b"y = 2\n"),
        ('quote"d.txt', b"quoted"),  # not the usual header shape: aiohttp's parser reads it
        ("sp ace/é ü.txt", "ünï".encode()),
        ("semi;colon.txt", b"semicolon"),
        ("empty.txt", b""),
    ]
    status, names = await post(client, files)
    assert status == 200, names
    assert names == [name for name, _ in files]
    assert tree(work) == dict(files)


async def test_small_and_large_parts_in_one_request(server: Any) -> None:
    """Small parts wait in memory, a large one is streamed, more small ones follow; and
    more than a few MiB of small parts are written out on the way."""
    client, work = server
    small = [(f"s/{i:02d}.bin", os.urandom(900 * 1024)) for i in range(6)]  # ~5.3 MiB
    large = ("big/large.bin", os.urandom(3 * MiB + 17))
    files = [*small[:3], large, *small[3:], ("s/last.txt", b"last")]
    status, names = await post(client, files)
    assert status == 200, names
    assert names == [name for name, _ in files]
    assert tree(work) == dict(files)


async def test_a_hostile_name_after_good_parts_writes_nothing(server: Any) -> None:
    client, work = server
    (work / "kept.txt").write_bytes(b"before")
    files = [("kept.txt", b"after"), ("new/a.txt", b"a"), ("../escape.txt", b"x")]
    status, problem = await post(client, files)
    assert status == 400
    assert "outside the work directory" in problem["msg"]
    assert tree(work) == {"kept.txt": b"before"}
    assert folders(work) == ["."]
    assert not (work.parent / "escape.txt").exists()


async def test_a_symlinked_folder_leading_outside_is_refused(server: Any, tmp_path: Path) -> None:
    client, work = server
    outside = tmp_path / "outside"
    outside.mkdir()
    (work / "link").symlink_to(outside)
    status, _ = await post(client, [("ok.txt", b"ok"), ("link/x.txt", b"x")])
    assert status == 400
    assert list(outside.iterdir()) == []
    assert tree(work) == {}


async def test_a_body_cut_after_complete_small_parts_leaves_nothing(
    server: Any, finished: asyncio.Event
) -> None:
    client, work = server
    body, content_type = body_of([(f"d{i}/f.txt", b"%d" % i) for i in range(5)])
    head = (
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(head + body[: len(body) - 10])  # every part but the closing boundary
    await writer.drain()
    writer.transport.abort()
    del reader
    await asyncio.wait_for(finished.wait(), 10)
    assert tree(work) == {}
    assert folders(work) == ["."]


def test_a_line_break_in_a_name_is_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="line break"):
        body_of([("bad\r\nX-Injected: 1.txt", b"x")])


async def test_the_official_clients_encoding_still_reads(server: Any) -> None:
    """aiohttp's FormData (what the official client sends) percent-encodes names."""
    client, work = server
    form = aiohttp.FormData()
    for name, data in [("sub/a.txt", b"A"), ("b c.txt", b"B")]:
        form.add_field("src", data, filename=name, content_type="application/octet-stream")
    response = await client.post("/upload", data=form)
    assert response.status == 200
    assert tree(work) == {"sub/a.txt": b"A", "b c.txt": b"B"}


async def test_twenty_parts_are_renamed_in_their_order(server: Any) -> None:
    """The same name twice in one request: the later part wins."""
    client, work = server
    files = [(f"many/f{i:02d}.txt", b"%d" % i) for i in range(19)] + [("many/f00.txt", b"last")]
    status, names = await post(client, files)
    assert status == 200, names
    assert names == [name for name, _ in files]
    assert tree(work) == {**dict(files[:19]), "many/f00.txt": b"last"}


async def test_a_failing_part_among_many_leaves_nothing(server: Any) -> None:
    client, work = server
    (work / "taken").mkdir()
    files = [(f"new/f{i:02d}.txt", b"x") for i in range(12)]
    files[7] = ("taken", b"a file where a folder is")
    status, problem = await post(client, files)
    assert status == 400
    assert "directory" in problem["msg"]
    assert tree(work) == {}
    assert folders(work) == [".", "taken"]


async def test_a_part_naming_a_folder_an_earlier_part_made_is_refused(server: Any) -> None:
    """What a folder holds is read once per request; a folder the request itself made
    after that reading still counts."""
    client, work = server
    (work / "pkg").mkdir()
    files = [("pkg/a.txt", b"a"), ("pkg/sub/b.txt", b"b"), ("pkg/sub", b"a file on a folder")]
    status, problem = await post(client, files)
    assert status == 400
    assert "directory" in problem["msg"]
    assert tree(work) == {}
    assert folders(work) == [".", "pkg"]


async def test_a_symlink_at_a_parts_name_is_checked_in_small_and_large_folders(
    server: Any, tmp_path: Path
) -> None:
    """A link at the final name takes the resolving check whether the folder is read whole
    (small) or stat'ed name by name (large): one leading outside is refused."""
    client, work = server
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret")
    (work / "small").mkdir()
    (work / "large").mkdir()
    for i in range(1500):  # a directory file well over a few KiB
        (work / "large" / f"filler-with-a-long-name-{i:05d}.txt").touch()
    for folder in ("small", "large"):
        (work / folder / "link.txt").symlink_to(outside / "secret.txt")
        status, _ = await post(client, [(f"{folder}/ok.txt", b"ok"), (f"{folder}/link.txt", b"x")])
        assert status == 400
        assert (outside / "secret.txt").read_bytes() == b"secret"
        assert not (work / folder / "ok.txt").exists()
    assert os.stat(work / "large").st_size > 16 * 1024
