"""Downloads extract safely: a hostile archive is refused before anything is written."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bai_bridge.api.config import APIConfig
from bai_bridge.api.download import fetch_digests
from bai_bridge.api.errors import BackendClientError, TransferError
from bai_bridge.api.session import APISession

TinyServer = Callable[[web.Application], Awaitable[APIConfig]]


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", link: str = "") -> tuple:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return buf.getvalue()


HOSTILE = {
    "absolute": [member("/tmp/bai-evil-absolute", data=b"x")],
    "dotdot": [member("ok.txt", data=b"fine"), member("../escaped.txt", data=b"x")],
    "nested-dotdot": [member("a/../../escaped.txt", data=b"x")],
    "symlink-out": [member("link", tarfile.SYMTYPE, link="../outside")],
    "symlink-absolute": [member("link", tarfile.SYMTYPE, link="/etc")],
    "symlink-then-write": [
        member("link", tarfile.SYMTYPE, link="sub"),
        member("link/../../escaped.txt", data=b"x"),
    ],
    "hardlink-out": [member("hard", tarfile.LNKTYPE, link="../outside/secret")],
    "device": [member("dev", tarfile.CHRTYPE)],
    "fifo": [member("fifo", tarfile.FIFOTYPE)],
}


async def serve_archives(tiny_server: TinyServer, archives: list[bytes]) -> APIConfig:
    async def download(request: web.Request) -> web.StreamResponse:
        assert (await request.json())["files"]
        with aiohttp.MultipartWriter("mixed") as writer:
            for archive in archives:
                part = writer.append(archive, {"Content-Type": "application/octet-stream"})
                part.headers["Content-Encoding"] = "identity"
        return web.Response(body=writer)

    app = web.Application()
    app.router.add_post("/session/dl/download", download)
    return await tiny_server(app)


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("case", sorted(HOSTILE))
async def test_hostile_archive_is_refused(
    tiny_server: TinyServer, tmp_path: Path, case: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "sub").mkdir()
    config = await serve_archives(tiny_server, [tar_bytes(*HOSTILE[case])])
    async with APISession(config) as api:
        with pytest.raises(TransferError, match="refusing"):
            await api.Kernel("dl").download(["anything"], dest)
    assert_untouched(tmp_path)


def assert_untouched(tmp_path: Path) -> None:
    # nothing extracted, nothing outside, no temporary archive left behind
    assert tree(tmp_path) == ["dest", "dest/sub", "outside", "outside/secret"]
    assert (tmp_path / "outside" / "secret").read_text() == "keep"
    assert not Path("/tmp/bai-evil-absolute").exists()


async def test_good_archives_extract_in_order(tiny_server: TinyServer, tmp_path: Path) -> None:
    first = tar_bytes(member("data", tarfile.DIRTYPE), member("data/a.txt", data=b"alpha"))
    second = tar_bytes(
        member("b.txt", data=b"beta"), member("b-link", tarfile.SYMTYPE, link="b.txt")
    )
    config = await serve_archives(tiny_server, [first, second])
    seen: list[int] = []
    async with APISession(config) as api:
        result = await api.Kernel("dl").download(
            ["data", "b.txt"], tmp_path, progress=lambda done, _: seen.append(done)
        )
    assert result.file_names == ["data", "data/a.txt", "b.txt", "b-link"]
    assert seen
    assert seen[-1] == len(first) + len(second)
    assert_extracted(tmp_path)


def assert_extracted(tmp_path: Path) -> None:
    assert (tmp_path / "data" / "a.txt").read_bytes() == b"alpha"
    assert (tmp_path / "b-link").read_bytes() == b"beta"
    assert not list(tmp_path.glob(".bai-download-*"))


@pytest.mark.parametrize("name", ["..", ".", "a/../../x", ""])
async def test_a_hostile_listing_of_a_refused_folder_writes_nothing(
    tiny_server: TinyServer, tmp_path: Path, name: str
) -> None:
    entries = {".": [("proj", "drwxr-xr-x")], "proj": [("ok.txt", "-rw-r--r--"), (name, "d")]}

    async def download(request: web.Request) -> web.Response:
        files = (await request.json())["files"]
        raise web.HTTPBadRequest(
            content_type="application/problem+json",
            text=json.dumps(
                {
                    "type": "https://api.backend.ai/probs/invalid-api-params",
                    "title": f"too large: {files}",
                }
            ),
        )

    async def listing(request: web.Request) -> web.Response:
        folder = (await request.json())["path"]
        files = [{"filename": f, "mode": m, "size": 0} for f, m in entries[folder]]
        return web.json_response({"files": json.dumps(files), "errors": "", "abspath": folder})

    app = web.Application()
    app.router.add_post("/session/dl/download", download)
    app.router.add_get("/session/dl/files", listing)
    config = await tiny_server(app)
    dest = tmp_path / "dest"
    dest.mkdir()
    async with APISession(config) as api:
        with pytest.raises(TransferError, match="refusing listing entry"):
            await api.Kernel("dl").download(["proj"], dest)
    assert tree(tmp_path) == ["dest"]


async def fetch_digest_of(api: APISession, dest: Path) -> object:
    return await fetch_digests(api.Kernel("dl"), ["anything"])


async def download_into(api: APISession, dest: Path) -> object:
    return await api.Kernel("dl").download(["anything"], dest)


ENCODED_PART = b"--b\r\nContent-Encoding: gzip\r\n\r\nxx\r\n--b--\r\n"
CUT_SHORT = b"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + b"x" * 100


async def answer(request: web.Request, body: bytes, length: int) -> web.StreamResponse:
    """``body`` as a multipart answer announced as ``length`` bytes long."""
    resp = web.StreamResponse(headers={"Content-Type": "multipart/mixed; boundary=b"})
    resp.content_length = length
    await resp.prepare(request)
    await resp.write(body)
    if len(body) < length:
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
    return resp


@pytest.mark.parametrize(
    ("body", "length", "error"),
    [
        (ENCODED_PART, len(ENCODED_PART), (TransferError, "unsupported part encoding")),
        (CUT_SHORT, len(CUT_SHORT) + 1000, (BackendClientError, "download interrupted")),
    ],
    ids=["encoded part", "cut short"],
)
@pytest.mark.parametrize("read", [download_into, fetch_digest_of], ids=["download", "digests"])
async def test_a_bad_download_response_is_refused_by_every_reader(
    tiny_server: TinyServer,
    tmp_path: Path,
    read: Callable[[APISession, Path], Awaitable[object]],
    body: bytes,
    length: int,
    error: tuple[type[Exception], str],
) -> None:
    async def download(request: web.Request) -> web.StreamResponse:
        return await answer(request, body, length)

    app = web.Application()
    app.router.add_post("/session/dl/download", download)
    config = await tiny_server(app)
    async with APISession(config) as api:
        with pytest.raises(error[0], match=error[1]):
            await read(api, tmp_path)
    assert tree(tmp_path) == []  # nothing written, no temporary archive left
