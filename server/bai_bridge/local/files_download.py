"""Answering a download (§3.10): one tar archive per requested path, as `multipart/mixed`.

Every archive is built (in a worker thread, into a temporary file) before the response
starts, so a missing or too large path is still a clean 400; then the parts are streamed
with an exact Content-Length each.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import IO

from aiohttp import web

from bai_bridge.local.files_limits import FileLimits
from bai_bridge.local.files_paths import confine, path_error, relative_parts
from bai_bridge.local.files_tar import ArchiveTooLarge, build_tar
from bai_bridge.local.files_threads import in_thread
from bai_bridge.local.problems import InvalidAPIParams

_SEND_CHUNK = 1 << 20


async def send_download(
    request: web.Request, work_dir: Path, paths: list[str], limits: FileLimits
) -> web.StreamResponse:
    """A 200 `multipart/mixed` response with the tar archive of each path, in order."""
    if not paths:
        raise InvalidAPIParams("No file(s) specified.")
    if len(paths) > limits.max_download_paths:
        raise InvalidAPIParams(
            f"Too many files: at most {limits.max_download_paths} paths a request."
        )
    targets = [relative_parts(work_dir, confine(work_dir, p)) for p in paths]
    archives: list[IO[bytes]] = []
    try:
        for path, parts in zip(paths, targets, strict=True):
            archives.append(await _archive(work_dir, path, parts, limits.max_download_size))
        return await _stream_parts(request, archives)
    finally:
        for archive in archives:
            archive.close()


async def _archive(work_dir: Path, path: str, parts: tuple[str, ...], limit: int) -> IO[bytes]:
    try:
        return await in_thread(build_tar, work_dir, parts, limit)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise InvalidAPIParams("The file is not found.", data={"path": path}) from e
    except OSError as e:  # e.g. a symlink swapped in after the path was checked
        raise path_error(path, e) from e
    except ArchiveTooLarge as e:
        raise InvalidAPIParams(
            f"Too large file: the archive of {path!r} exceeds {limit} bytes.",
            data={"path": path, "limit": limit},
        ) from e


async def _stream_parts(request: web.Request, archives: list[IO[bytes]]) -> web.StreamResponse:
    boundary = secrets.token_hex(16)
    heads = [_part_head(boundary, _size(a)) for a in archives]
    tail = f"--{boundary}--\r\n".encode()
    response = web.StreamResponse(headers={"Content-Type": f"multipart/mixed; boundary={boundary}"})
    response.content_length = sum(
        len(h) + _size(a) + 2 for h, a in zip(heads, archives, strict=True)
    ) + len(tail)
    await response.prepare(request)
    for head, archive in zip(heads, archives, strict=True):
        await response.write(head)
        while chunk := await in_thread(archive.read, _SEND_CHUNK):
            await response.write(chunk)
        await response.write(b"\r\n")
    await response.write(tail)
    await response.write_eof()
    return response


def _part_head(boundary: str, size: int) -> bytes:
    return (
        f"--{boundary}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {size}\r\n"
        "Content-Encoding: identity\r\n"
        "\r\n"
    ).encode()


def _size(archive: IO[bytes]) -> int:
    position = archive.tell()
    size = archive.seek(0, 2)
    archive.seek(position)
    return size
