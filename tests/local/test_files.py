"""Upload, download and listing of a session's files, through a real aiohttp server.

A tiny app wraps the functions of `bai_bridge.local.files`; every hostile request must be a
4xx problem+json, and the file system outside the work dir is checked to be untouched.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import stat
import tarfile
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bai_bridge.local import files_download
from bai_bridge.local.files import (
    FileLimits,
    list_files,
    multipart_reader,
    receive_upload,
    send_download,
)
from bai_bridge.local.files_paths import locate, open_dir_beneath, open_root, path_error
from bai_bridge.local.files_tar import build_tar, tar_of
from bai_bridge.local.files_threads import SMALL_FILE_BYTES
from bai_bridge.local.problems import Problem

MiB = 1 << 20
SECRET = b"outside secret"


class FilesApp:
    """The test app: one work dir, the default limits, a record of finished uploads."""

    def __init__(self, work_dir: Path, limits: FileLimits, mounts: tuple[Path, ...] = ()) -> None:
        self.work_dir, self.limits, self.mounts = work_dir, limits, mounts
        self.upload_finished = asyncio.Event()
        self.upload_error: BaseException | None = None

    def build(self) -> web.Application:
        app = web.Application(middlewares=[problem_middleware])
        app.router.add_post("/upload", self.upload)
        app.router.add_post("/download", self.download)
        app.router.add_get("/files", self.files)
        return app

    async def upload(self, request: web.Request) -> web.Response:
        try:
            names = await receive_upload(
                await multipart_reader(request), self.work_dir, self.limits, mounts=self.mounts
            )
        except BaseException as e:
            self.upload_error = e
            raise
        finally:
            self.upload_finished.set()
        return web.json_response(names)

    async def download(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await send_download(
            request, self.work_dir, body["files"], self.limits, mounts=self.mounts
        )

    async def files(self, request: web.Request) -> web.Response:
        body = await request.json()
        path = body.get("path", ".")
        result = await asyncio.to_thread(list_files, self.work_dir, path, mounts=self.mounts)
        return web.json_response(result)


@web.middleware
async def problem_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)  # type: ignore[no-any-return]
    except Problem as e:
        return e.response()


def snapshot(root: Path) -> dict[str, tuple[str, bytes | str | None]]:
    """Every entry below `root` (not following symlinks) with its content."""
    tree: dict[str, tuple[str, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                tree[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                tree[rel] = ("dir", None)
            else:
                tree[rel] = ("file", path.read_bytes())
    return tree


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(work dir, outside dir); the outside dir holds a secret and is linked from inside."""
    work, outside = tmp_path / "work", tmp_path / "outside"
    work.mkdir(mode=0o700)
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    (work / "escape_dir").symlink_to(outside)
    (work / "escape_file").symlink_to(outside / "secret.txt")
    (work / "escape_dangling").symlink_to(outside / "new.txt")
    return work, outside


@pytest.fixture
async def served(layout: tuple[Path, Path]) -> AsyncIterator[tuple[TestClient[Any, Any], FilesApp]]:
    files_app = FilesApp(layout[0], FileLimits())
    async with TestClient(TestServer(files_app.build(), host="127.0.0.1")) as client:
        yield client, files_app


def form(*files: tuple[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for name, content in files:
        data.add_field("src", content, filename=name, content_type="application/octet-stream")
    return data


def raw_multipart(boundary: str, *parts: tuple[str, bytes], end: bool = True) -> bytes:
    """A multipart body written by hand, so hostile names reach the server verbatim."""
    out = b""
    for disposition, content in parts:
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="src"; {disposition}\r\n'
        out += head.encode()
        out += b"Content-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    return out + (f"--{boundary}--\r\n".encode() if end else b"")


async def expect_problem(response: aiohttp.ClientResponse, status: int = 400) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = await response.json(content_type=None)
    assert body["type"].startswith("https://api.backend.ai/probs/")
    return body


def temp_files(root: Path) -> list[str]:
    return [rel for rel in snapshot(root) if ".bai-upload-" in rel]


# --- upload -------------------------------------------------------------------------------


async def test_upload_writes_files_and_creates_directories(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    response = await client.post("/upload", data=form(("a.txt", b"A"), ("sub\\dir/b.bin", b"B")))
    assert response.status == 200, await response.text()
    assert await response.json() == ["a.txt", "sub/dir/b.bin"]
    assert (work / "a.txt").read_bytes() == b"A"
    assert (work / "sub" / "dir" / "b.bin").read_bytes() == b"B"
    assert stat.S_IMODE((work / "a.txt").stat().st_mode) == 0o666 & ~_umask()
    assert temp_files(work) == []


async def test_concurrent_uploads_into_the_same_new_folders(served: Any, layout: Any) -> None:
    """Requests in flight together (a syncing client does that) share the folders they make:
    none fails because another made a folder first, every file lands, no temporary is left."""
    client, _ = served
    work, _ = layout
    batches = [
        [(f"new/deep/r{r}_f{f}.txt", f"{r}-{f}".encode()) for f in range(8)] for r in range(6)
    ]
    responses = await asyncio.gather(*(client.post("/upload", data=form(*b)) for b in batches))
    for response, batch in zip(responses, batches, strict=True):
        assert response.status == 200, await response.text()
        assert await response.json() == [name for name, _ in batch]
    for name, content in (file for batch in batches for file in batch):
        assert (work / name).read_bytes() == content
    assert temp_files(work) == []


async def test_upload_overwrites_existing_file(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    (work / "a.txt").write_bytes(b"old content that is longer")
    response = await client.post("/upload", data=form(("a.txt", b"new")))
    assert response.status == 200
    assert (work / "a.txt").read_bytes() == b"new"


async def test_upload_size_limit_is_strict(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    ok = await client.post("/upload", data=form(("fits.bin", b"x" * (MiB - 1))))
    assert ok.status == 200
    body = await expect_problem(await client.post("/upload", data=form(("big.bin", b"x" * MiB))))
    assert body["msg"] == "Too large file"
    assert not (work / "big.bin").exists()
    assert temp_files(work) == []


async def test_upload_too_many_files_writes_none(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    before = snapshot(work)
    files = [(f"f{i}.txt", b"x") for i in range(21)]
    body = await expect_problem(await client.post("/upload", data=form(*files)))
    assert body["msg"] == "Too many files"
    assert snapshot(work) == before
    twenty = await client.post("/upload", data=form(*files[:20]))
    assert twenty.status == 200


async def test_failed_upload_removes_directories_it_made(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    before = snapshot(work)
    files = (("new/deep/ok.txt", b"x"), ("new/big.bin", b"x" * MiB))
    await expect_problem(await client.post("/upload", data=form(*files)))
    assert snapshot(work) == before


HOSTILE_NAMES = [
    'filename="../x.txt"',
    'filename="a/../../x.txt"',
    'filename="..\\\\x.txt"',
    'filename="{outside}/abs.txt"',
    'filename="C:\\\\x.txt"',
    "filename*=utf-8''a%00b.txt",
    'filename="a%00b.txt"',
    'filename="..%2Fx.txt"',
    'filename="sub%2F..%2F..%2Fx.txt"',
    'filename="bad%FFutf8"',
    'filename=""',
    'filename="."',
    'filename="escape_dir/x.txt"',
    'filename="escape_file"',
    'filename="escape_dangling"',
    'filename="escape_dir/../escape_dir/y.txt"',
]


@pytest.mark.parametrize("disposition", HOSTILE_NAMES)
async def test_upload_rejects_hostile_names(served: Any, layout: Any, disposition: str) -> None:
    client, _ = served
    work, outside = layout
    before = snapshot(work.parent)
    boundary = "hostileboundary"
    body = raw_multipart(
        boundary,
        ('filename="fine.txt"', b"fine"),
        (disposition.format(outside=outside), b"payload"),
    )
    response = await client.post(
        "/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    await expect_problem(response)
    assert snapshot(work.parent) == before


async def test_upload_refuses_part_without_file_name(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    before = snapshot(work)
    boundary = "nonameboundary"
    body = raw_multipart(boundary, ('filename="named.txt"', b"named"), ("x=y", b"no name"))
    response = await client.post(
        "/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    await expect_problem(response)
    assert snapshot(work) == before


async def test_upload_refuses_a_leading_charset_field(served: Any, layout: Any) -> None:
    """A `_charset_` form field (RFC 7578 §4.6) names no file: refused like any such field,
    not taken as the text encoding of the files (which are bytes)."""
    client, _ = served
    work, _ = layout
    before = snapshot(work)
    boundary = "charsetboundary"
    charset = f'--{boundary}\r\nContent-Disposition: form-data; name="_charset_"\r\n\r\nutf-8\r\n'
    body = charset.encode() + raw_multipart(boundary, ('filename="named.txt"', b"named"))
    response = await client.post(
        "/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert "no file name" in json.dumps(await expect_problem(response))
    assert snapshot(work) == before


async def test_upload_refuses_directory_target(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    (work / "adir").mkdir()
    await expect_problem(await client.post("/upload", data=form(("adir", b"x"))))
    assert (work / "adir").is_dir()


async def test_upload_malformed_body_is_a_problem(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    before = snapshot(work)
    response = await client.post(
        "/upload",
        data=b"this is not multipart at all",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    await expect_problem(response)
    assert snapshot(work) == before


async def send_raw_and_cut(port: int, head: bytes, body: bytes) -> None:
    """Send a request head and a partial body, then drop the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body)
    await writer.drain()
    writer.transport.abort()
    del reader


@pytest.mark.parametrize("cut_inside_second_part", [True, False])
async def test_truncated_upload_leaves_nothing(
    served: Any, layout: Any, cut_inside_second_part: bool
) -> None:
    client, files_app = served
    work, _ = layout
    before = snapshot(work)
    boundary = "cutboundary"
    full = raw_multipart(
        boundary, ('filename="one.txt"', b"1" * 1000), ('filename="two.txt"', b"2" * 300_000)
    )
    cut = full.index(b"2" * 1000) + 1000 if cut_inside_second_part else len(full) - 8
    head = (
        "POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(full)}\r\n\r\n"
    ).encode()
    await send_raw_and_cut(client.port, head, full[:cut])
    await asyncio.wait_for(files_app.upload_finished.wait(), 10)
    assert files_app.upload_error is not None
    assert snapshot(work) == before


async def test_chunked_body_ending_without_final_boundary(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    before = snapshot(work)
    boundary = "chunkboundary"
    body = raw_multipart(boundary, ('filename="one.txt"', b"1" * 100), end=False)

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    response = await client.post(
        "/upload",
        data=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    await expect_problem(response)
    assert snapshot(work) == before


# --- download -----------------------------------------------------------------------------


async def read_parts(response: aiohttp.ClientResponse) -> list[tuple[Any, bytes]]:
    reader = aiohttp.MultipartReader.from_response(response)
    parts = []
    while (part := await reader.next()) is not None:
        assert isinstance(part, aiohttp.BodyPartReader)
        parts.append((part.headers, await part.read()))
    return parts


def members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return {m.name: m for m in tar.getmembers()}


async def test_download_file_and_directory_in_order(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    (work / "a.txt").write_bytes(b"alpha")
    (work / "d" / "e").mkdir(parents=True)
    (work / "d" / "e" / "f.txt").write_bytes(b"foxtrot")
    (work / "d" / "inner_link").symlink_to("e/f.txt")
    response = await client.post("/download", json={"files": ["d", "a.txt"]})
    assert response.status == 200
    assert response.content_type == "multipart/mixed"
    parts = await read_parts(response)
    assert len(parts) == 2
    for headers, content in parts:
        assert headers["Content-Type"] == "application/octet-stream"
        assert headers["Content-Encoding"] == "identity"
        assert int(headers["Content-Length"]) == len(content)
    tree = members(parts[0][1])
    assert sorted(tree) == ["d", "d/e", "d/e/f.txt", "d/inner_link"]
    assert tree["d/inner_link"].issym()
    assert tree["d/inner_link"].linkname == "e/f.txt"
    with tarfile.open(fileobj=io.BytesIO(parts[1][1])) as tar:
        assert tar.getnames() == ["a.txt"]
        extracted = tar.extractfile("a.txt")
        assert extracted is not None
        assert extracted.read() == b"alpha"


async def test_a_small_file_is_downloaded_without_a_thread_hop_and_alike(
    served: Any, layout: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small regular file (a sync's comparison fetches one beside its listings) is opened
    and read in the event loop; a larger one and a folder still go through a worker thread;
    all three arrive as the same archives."""
    client, _ = served
    work, _ = layout
    small, large = b"s" * SMALL_FILE_BYTES, b"L" * (SMALL_FILE_BYTES + 1)
    (work / "small.txt").write_bytes(small)
    (work / "large.txt").write_bytes(large)
    (work / "d").mkdir()
    (work / "d" / "f.txt").write_bytes(b"f")
    hops: list[str] = []
    in_thread = files_download.in_thread

    async def counted(fn: Any, *args: Any) -> Any:
        hops.append(getattr(fn, "__name__", repr(fn)))
        return await in_thread(fn, *args)

    monkeypatch.setattr(files_download, "in_thread", counted)
    for name, content in (("small.txt", small), ("large.txt", large)):
        hops.clear()
        [(_, archive)] = await read_parts(await client.post("/download", json={"files": [name]}))
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            extracted = tar.extractfile(name)
            assert extracted is not None
            assert extracted.read() == content
        assert bool(hops) == (name == "large.txt"), hops
    hops.clear()
    [(_, archive)] = await read_parts(await client.post("/download", json={"files": ["d"]}))
    assert sorted(members(archive)) == ["d", "d/f.txt"]
    assert hops == ["tar_of"]


async def test_download_tar_does_not_follow_links_outside(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    (work / "d").mkdir()
    (work / "d" / "out_file").symlink_to(work.parent / "outside" / "secret.txt")
    (work / "d" / "out_dir").symlink_to(work.parent / "outside")
    os.mkfifo(work / "d" / "fifo")
    response = await client.post("/download", json={"files": ["d", "."]})
    assert response.status == 200
    assert SECRET not in await response.read()
    parts = await read_parts(await client.post("/download", json={"files": ["d", "."]}))
    for _, archive in parts:
        for member_name, info in members(archive).items():
            assert not member_name.startswith("/")
            assert ".." not in member_name.split("/")
            assert info.isdir() or info.issym() or info.isfifo() or info.isfile()
            if info.issym():
                assert info.size == 0
    tree = members(parts[0][1])
    assert tree["d/out_file"].issym()
    assert tree["d/out_dir"].issym()
    assert tree["d/fifo"].isfifo()
    assert "d/out_dir/secret.txt" not in tree
    assert "./escape_dir/secret.txt" not in members(parts[1][1])


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.txt",
        "a/../../x",
        "{outside}/secret.txt",
        "a\x00b",
        "",
        "escape_file",
        "escape_dir",
        "escape_dir/secret.txt",
    ],
)
async def test_download_rejects_hostile_paths(served: Any, layout: Any, path: str) -> None:
    client, _ = served
    work, outside = layout
    (work / "ok.txt").write_bytes(b"ok")  # a fine path first: the whole request is refused
    before = snapshot(work.parent)
    response = await client.post(
        "/download", json={"files": ["ok.txt", path.format(outside=outside)]}
    )
    body = await expect_problem(response)
    assert SECRET.decode() not in json.dumps(body)
    assert snapshot(work.parent) == before


async def test_download_missing_path(served: Any) -> None:
    client, _ = served
    response = await client.post("/download", json={"files": ["nope.txt"]})
    body = await expect_problem(response)
    assert body["msg"] == "The file is not found."


async def test_download_limits(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    (work / "small.txt").write_bytes(b"s")
    too_many = await client.post("/download", json={"files": ["small.txt"] * 6})
    assert "Too many files" in (await expect_problem(too_many))["msg"]
    five = await client.post("/download", json={"files": ["small.txt"] * 5})
    assert len(await read_parts(five)) == 5
    (work / "big.bin").write_bytes(os.urandom(MiB))
    too_large = await client.post("/download", json={"files": ["small.txt", "big.bin"]})
    assert "Too large file" in (await expect_problem(too_large))["msg"]


# --- list_files -----------------------------------------------------------------------------


async def test_list_files_shape(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    (work / "sub").mkdir()
    (work / "sub" / "a.txt").write_bytes(b"12345")
    (work / "sub" / "a.txt").chmod(0o644)
    (work / "sub" / "inner").mkdir(mode=0o755)
    (work / "sub" / "inner").chmod(0o755)
    response = await client.get("/files", json={"path": "sub"})
    assert response.status == 200
    body = await response.json()
    assert body["errors"] == ""
    assert body["abspath"] == "sub"
    entries = json.loads(body["files"])
    assert [e["filename"] for e in entries] == ["a.txt", "inner"]
    assert entries[0]["mode"] == "-rw-r--r--"
    assert entries[0]["size"] == 5
    assert entries[1]["mode"] == "drwxr-xr-x"
    assert set(entries[0]) == {"mode", "size", "ctime", "mtime", "atime", "filename"}


async def test_list_files_shows_links_without_following(served: Any) -> None:
    client, _ = served
    body = await (await client.get("/files", json={"path": "."})).json()
    entries = {e["filename"]: e for e in json.loads(body["files"])}
    assert entries["escape_dir"]["mode"].startswith("l")


async def test_list_missing_directory_reports_error(served: Any) -> None:
    client, _ = served
    body = await (await client.get("/files", json={"path": "missing"})).json()
    assert json.loads(body["files"]) == []
    assert "missing" in body["errors"]


@pytest.mark.parametrize(
    "path", ["..", "a/../../x", "{outside}", "a\x00b", "escape_dir", "escape_dir/sub"]
)
async def test_list_rejects_hostile_paths(served: Any, layout: Any, path: str) -> None:
    client, _ = served
    work, outside = layout
    before = snapshot(work.parent)
    response = await client.get("/files", json={"path": path.format(outside=outside)})
    body = await expect_problem(response)
    assert "secret.txt" not in json.dumps(body)
    assert snapshot(work.parent) == before


def _umask() -> int:
    status = Path("/proc/self/status").read_text()
    return int(
        next(line for line in status.splitlines() if line.startswith("Umask:")).split()[1], 8
    )


# --- races: a symlink swapped in after the check ---------------------------------------------


def test_walk_refuses_a_symlink_swapped_in_after_the_check(layout: Any) -> None:
    work, outside = layout
    (work / "d").mkdir()
    parts = locate(work, "d/new.txt").parts  # checked while d is a directory
    (work / "d").rmdir()
    (work / "d").symlink_to(outside)  # ...then the session's shell swaps it
    root_fd = open_root(work)
    try:
        with pytest.raises(OSError, match=r"Too many levels|Not a directory") as refused:
            open_dir_beneath(root_fd, parts[:-1], create=[])
        assert path_error("d/new.txt", refused.value).status == 400
    finally:
        os.close(root_fd)
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


def test_folders_made_meanwhile_by_another_upload_are_used(layout: Any) -> None:
    """Uploads stage in worker threads: two making the same folder at once both succeed,
    and only the one that made a folder lists it (for its cleanup)."""
    work, _ = layout
    root_fd = open_root(work)
    try:
        for round_ in range(40):
            parts = (f"race{round_}", "a", "b")
            made: list[list[str]] = [[] for _ in range(4)]
            start = threading.Barrier(len(made))

            def make(into: list[str], parts: tuple[str, ...] = parts, start: Any = start) -> None:
                start.wait(timeout=10)
                os.close(open_dir_beneath(root_fd, parts, create=into))

            with ThreadPoolExecutor(len(made)) as pool:
                list(pool.map(make, made))
            assert sorted(rel for m in made for rel in m) == sorted(
                ["/".join(parts[: i + 1]) for i in range(len(parts))]
            )
    finally:
        os.close(root_fd)


def test_tar_refuses_a_symlink_swapped_in_after_the_check(layout: Any) -> None:
    work, outside = layout
    (work / "d").mkdir()
    (work / "d" / "secret.txt").write_bytes(b"inside")
    target = locate(work, "d/secret.txt")
    (work / "d" / "secret.txt").unlink()
    (work / "d").rmdir()
    (work / "d").symlink_to(outside)
    with pytest.raises(OSError, match=r"Too many levels|Not a directory"):
        build_tar(target, MiB)


async def test_download_through_a_symlink_that_stays_inside(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    (work / "real").mkdir()
    (work / "real" / "f.txt").write_bytes(b"inside")
    (work / "alias").symlink_to("real")
    parts = await read_parts(await client.post("/download", json={"files": ["alias/f.txt"]}))
    with tarfile.open(fileobj=io.BytesIO(parts[0][1])) as tar:
        extracted = tar.extractfile("f.txt")
        assert extracted is not None
        assert extracted.read() == b"inside"


@pytest.mark.parametrize("size", [0, 1, 511, 512, 10_000, 300_000])
def test_a_single_file_is_sent_exactly_as_tarfile_writes_it(layout: Any, size: int) -> None:
    work, _ = layout
    name = "a-long-name-" + "x" * 120 + ".bin"  # over 100 bytes: needs a pax header
    (work / name).write_bytes(os.urandom(size))
    part = tar_of(locate(work, name), MiB)
    try:
        described = part.head + part.file.read() + part.tail
        assert len(described) == part.size
    finally:
        part.close()
    with build_tar(locate(work, name), MiB) as written:
        assert described == written.read()


# --- mounted folders ------------------------------------------------------------------------


@pytest.fixture
async def with_mount(
    layout: tuple[Path, Path],
) -> AsyncIterator[tuple[TestClient[Any, Any], Path]]:
    """A vfolder outside the work dir, linked in as "data" (where a cluster bind-mounts it)."""
    work, _outside = layout
    vfolder = work.parent / "vfolders" / "data"
    vfolder.mkdir(parents=True)
    (vfolder / "in-mount.txt").write_bytes(b"mounted")
    (work / "data").symlink_to(vfolder)
    files_app = FilesApp(work, FileLimits(), mounts=(vfolder,))
    async with TestClient(TestServer(files_app.build(), host="127.0.0.1")) as client:
        yield client, vfolder


async def test_mounted_folder_is_inside(with_mount: Any, layout: Any) -> None:
    client, vfolder = with_mount
    _work, outside = layout
    response = await client.post("/upload", data=form(("data/sub/new.txt", b"new")))
    assert response.status == 200
    assert await response.json() == ["data/sub/new.txt"]
    assert (vfolder / "sub" / "new.txt").read_bytes() == b"new"
    listing = await (await client.get("/files", json={"path": "data"})).json()
    assert [e["filename"] for e in json.loads(listing["files"])] == ["in-mount.txt", "sub"]
    parts = await read_parts(await client.post("/download", json={"files": ["data"]}))
    assert sorted(members(parts[0][1])) == [
        "data",
        "data/in-mount.txt",
        "data/sub",
        "data/sub/new.txt",
    ]
    # Other links leading out are still refused.
    await expect_problem(await client.post("/upload", data=form(("escape_dir/x.txt", b"x"))))
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


async def test_mount_is_outside_unless_declared(served: Any, layout: Any) -> None:
    client, _ = served
    work, _ = layout
    vfolder = work.parent / "vfolders" / "data"
    vfolder.mkdir(parents=True)
    (work / "data").symlink_to(vfolder)
    await expect_problem(await client.post("/upload", data=form(("data/x.txt", b"x"))))
    assert list(vfolder.iterdir()) == []


async def test_upload_decodes_names_as_aiohttp_clients_encode_them(
    served: Any, layout: Any
) -> None:
    """The official client (aiohttp 3.8) sends ``filename="sub%2Fa.txt"`` for sub/a.txt."""
    client, _ = served
    work, _ = layout
    boundary = "officialboundary"
    body = raw_multipart(
        boundary,
        ('filename="sub%2Fdeep%2Fa.txt"', b"a"),
        ('filename="100%25%20done.txt"', b"b"),
        ("filename*=utf-8''caf%C3%A9%25.txt", b"c"),
    )
    response = await client.post(
        "/upload", data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert response.status == 200, await response.text()
    assert await response.json() == ["sub/deep/a.txt", "100% done.txt", "café%.txt"]
    assert (work / "sub" / "deep" / "a.txt").read_bytes() == b"a"
    assert (work / "100% done.txt").read_bytes() == b"b"
    assert (work / "café%.txt").read_bytes() == b"c"


@pytest.mark.parametrize(
    "content_type", ["application/json", "multipart/form-data", "text/plain; boundary=x"]
)
async def test_upload_that_is_not_multipart(served: Any, layout: Any, content_type: str) -> None:
    client, _ = served
    work, _ = layout
    before = snapshot(work)
    response = await client.post("/upload", data=b"{}", headers={"Content-Type": content_type})
    body = await expect_problem(response)
    assert "multipart" in body["msg"]
    assert snapshot(work) == before
