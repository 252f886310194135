"""Answering a download (§3.10): one tar archive per requested path, as `multipart/mixed`.

Every archive is prepared (in a worker thread) before the response starts, so a missing or
too large path is still a clean 400; then the parts are streamed with an exact
Content-Length each. A file is read once, straight into the response. A small regular file
is opened and read in the event loop instead (`SMALL_FILE_BYTES`): a sync's comparison
fetches one beside its listings and should not wait behind them for two thread hops.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from bai_bridge.local.files_limits import FileLimits
from bai_bridge.local.files_paths import Located, locate, path_error
from bai_bridge.local.files_tar import ArchiveTooLarge, TarPart, single_file, tar_of
from bai_bridge.local.files_threads import SMALL_FILE_BYTES, in_thread
from bai_bridge.local.problems import InvalidAPIParams

log = logging.getLogger(__name__)

_SEND_CHUNK = 1 << 20


async def send_download(
    request: web.Request,
    work_dir: Path,
    paths: list[str],
    limits: FileLimits,
    *,
    mounts: Sequence[Path] = (),
) -> web.StreamResponse:
    """A 200 `multipart/mixed` response with the tar archive of each path, in order.

    `mounts`: the folders mounted in the work dir (through symlinks), readable too.
    """
    if not paths:
        raise InvalidAPIParams("No file(s) specified.")
    if len(paths) > limits.max_download_paths:
        raise InvalidAPIParams(
            f"Too many files: at most {limits.max_download_paths} paths a request."
        )
    targets = [locate(work_dir, p, mounts=mounts) for p in paths]
    archives: list[TarPart] = []
    try:
        for path, target in zip(paths, targets, strict=True):
            archives.append(await _archive(path, target, limits.max_download_size))
        return await _stream_parts(request, archives)
    finally:
        for archive in archives:
            archive.close()


async def _archive(path: str, target: Located, limit: int) -> TarPart:
    try:
        part = single_file(target, limit) if _small_file(target) else None
        return part if part is not None else await in_thread(tar_of, target, limit)
    except (FileNotFoundError, NotADirectoryError) as e:
        raise InvalidAPIParams("The file is not found.", data={"path": path}) from e
    except OSError as e:  # e.g. a symlink swapped in after the path was checked
        raise path_error(path, e) from e
    except ArchiveTooLarge as e:
        raise InvalidAPIParams(
            f"Too large file: the archive of {path!r} exceeds {limit} bytes.",
            data={"path": path, "limit": limit},
        ) from e


def _small_file(target: Located) -> bool:
    """Whether ``target`` looks like a small regular file (one stat decides; the archive is
    still made of what the descriptor walk finds there)."""
    try:
        st = os.stat(target.root.joinpath(*target.parts), follow_symlinks=False)
    except (OSError, ValueError):
        return False  # archived in a thread, which tells why it cannot be
    return stat.S_ISREG(st.st_mode) and st.st_size <= SMALL_FILE_BYTES


async def _stream_parts(request: web.Request, archives: list[TarPart]) -> web.StreamResponse:
    boundary = secrets.token_hex(16)
    heads = [_part_head(boundary, a.size) for a in archives]
    tail = f"--{boundary}--\r\n".encode()
    response = web.StreamResponse(headers={"Content-Type": f"multipart/mixed; boundary={boundary}"})
    response.content_length = sum(len(h) + a.size + 2 for h, a in zip(heads, archives, strict=True))
    response.content_length += len(tail)
    await response.prepare(request)
    for head, archive in zip(heads, archives, strict=True):
        await response.write(head + archive.head)
        await _send_body(response, archive)
        await response.write(archive.tail + b"\r\n")
    await response.write(tail)
    await response.write_eof()
    return response


async def _send_body(response: web.StreamResponse, archive: TarPart) -> None:
    """Exactly `body_size` bytes: a file that shrank meanwhile is padded, one that grew cut."""
    left = archive.body_size
    small = left <= SMALL_FILE_BYTES
    while left:
        want = min(left, _SEND_CHUNK)
        chunk = archive.file.read(want) if small else await in_thread(archive.file.read, want)
        if not chunk:
            log.warning("download: a file shrank while being sent; padding it with zeros")
            chunk = bytes(min(left, _SEND_CHUNK))
        left -= len(chunk)
        await response.write(chunk)


def _part_head(boundary: str, size: int) -> bytes:
    return (
        f"--{boundary}\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {size}\r\n"
        "Content-Encoding: identity\r\n"
        "\r\n"
    ).encode()
