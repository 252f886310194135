"""Download within the manager's limits (protocol doc §3.10).

At most `DOWNLOAD_PATHS_PER_REQUEST` paths go in one request; each multipart part (a tar
archive) streams to a temporary file and is extracted with `tarsafe`. When the server refuses
a batch and a listing shows a file too large for one archive, that file is split in the
session, fetched in pieces and joined locally with a checksum check.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import aiohttp
from aiohttp import hdrs

from .errors import BackendAPIError, BackendClientError, TransferError
from .models import DownloadResult
from .tarsafe import safe_extract
from .transfer import (
    DOWNLOAD_FILE_LIMIT,
    DOWNLOAD_PATHS_PER_REQUEST,
    READ_SIZE,
    ProgressCallback,
    batch_output,
    best_effort,
    progress_sink,
)

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["download"]

DOWNLOAD_CHUNK_SIZE = 768 * 1024  # leaves room for the tar headers and padding


def _check_part_headers(part: aiohttp.BodyPartReader) -> None:
    encoding = part.headers.get(hdrs.CONTENT_ENCODING, "identity").lower()
    transfer = part.headers.get(hdrs.CONTENT_TRANSFER_ENCODING, "binary").lower()
    if encoding != "identity" or transfer not in ("binary", "8bit", "7bit"):
        raise TransferError(f"unsupported part encoding in download: {encoding}/{transfer}")


async def _save_part(
    part: aiohttp.BodyPartReader, dest: Path, advance: Callable[[int], None]
) -> Path:
    fd, name = await asyncio.to_thread(tempfile.mkstemp, ".tar", ".bai-download-", dest)
    with os.fdopen(fd, "wb") as f:
        while chunk := await part.read_chunk(READ_SIZE):
            await asyncio.to_thread(f.write, chunk)
            advance(len(chunk))
    return Path(name)


async def _download_batch(
    kernel: Kernel, paths: Sequence[str], dest: Path, advance: Callable[[int], None]
) -> list[str]:
    names: list[str] = []
    method = kernel.session.download_method
    async with kernel.session.request(
        method,
        kernel.request_path("/download"),
        query=kernel.request_query(),
        json_body={"files": list(paths)},
    ) as resp:
        try:
            reader = aiohttp.MultipartReader.from_response(resp)
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader):
                    raise TransferError("nested multipart in a download response")
                _check_part_headers(part)
                archive = await _save_part(part, dest, advance)
                try:
                    names += await asyncio.to_thread(safe_extract, archive, dest)
                finally:
                    await asyncio.to_thread(archive.unlink, missing_ok=True)
        except (ValueError, AssertionError) as e:
            raise TransferError(f"malformed download response: {e}") from e
        except aiohttp.ClientError as e:
            raise BackendClientError(f"download interrupted: {e}") from e
    return names


async def _large_files(kernel: Kernel, paths: Sequence[str], limit: int) -> dict[str, int]:
    """Which of ``paths`` are regular files too large for one archive (path -> size)."""
    large: dict[str, int] = {}
    by_parent: dict[str, list[str]] = {}
    for path in paths:
        by_parent.setdefault(str(PurePosixPath(path).parent), []).append(path)
    for parent, children in by_parent.items():
        listing = await kernel.list_files(parent)
        sizes = {e.filename: e.size for e in listing.files if e.mode.startswith("-")}
        for path in children:
            size = sizes.get(PurePosixPath(path).name)
            if size is not None and size > limit - 16 * 1024:
                large[path] = size
    return large


def _join_local(parts: Sequence[Path], target: Path, sha256: str) -> None:
    """Concatenate ``parts`` into ``target`` atomically if the checksum matches (blocking)."""
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(READ_SIZE):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != sha256:
            raise TransferError(f"checksum mismatch for {target.name} after download")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


async def _download_in_chunks(
    kernel: Kernel, path: str, dest: Path, advance: Callable[[int], None]
) -> list[str]:
    """Split ``path`` in the session, fetch the pieces, join them into ``dest``."""
    remote = PurePosixPath(path)
    prefix = str(remote.with_name(f".{remote.name}.bai-dl-{uuid.uuid4().hex[:12]}-"))
    quoted, qprefix = shlex.quote(path), shlex.quote(prefix)
    split = (
        f"split -b {DOWNLOAD_CHUNK_SIZE} -d -a 5 -- {quoted} {qprefix} && "
        f"sha256sum -- {quoted} | cut -d' ' -f1 && ls -1 -- {qprefix}*"
    )
    try:
        lines = (await batch_output(kernel, split, f"splitting {path}")).split()
        if len(lines) < 2:
            raise TransferError(f"splitting {path} in the session gave no pieces")
        sha256, names = lines[0], sorted(lines[1:])
        workdir = Path(await asyncio.to_thread(tempfile.mkdtemp, ".tmp", ".bai-dl-", dest))
        try:
            pieces: list[Path] = []
            for start in range(0, len(names), DOWNLOAD_PATHS_PER_REQUEST):
                batch = names[start : start + DOWNLOAD_PATHS_PER_REQUEST]
                await _download_batch(kernel, batch, workdir, advance)
                pieces += [workdir / PurePosixPath(n).name for n in batch]
            await asyncio.to_thread(_join_local, pieces, dest / remote.name, sha256)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, ignore_errors=True)
    finally:
        await best_effort(batch_output(kernel, f"rm -f -- {qprefix}*", "removing pieces"))
    return [remote.name]


async def _download_some(
    kernel: Kernel, paths: Sequence[str], dest: Path, advance: Callable[[int], None]
) -> list[str]:
    """One batch; if the server refuses it, retry large files in chunks."""
    try:
        return await _download_batch(kernel, paths, dest, advance)
    except BackendAPIError as e:
        if e.status not in (400, 500):
            raise
        try:
            large = await _large_files(kernel, paths, DOWNLOAD_FILE_LIMIT)
        except BackendAPIError:
            raise e from None
        if not large:
            raise
    small = [p for p in paths if p not in large]
    names = await _download_batch(kernel, small, dest, advance) if small else []
    for path in large:
        names += await _download_in_chunks(kernel, path, dest, advance)
    return names


def _prepare_dest(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    return dest.resolve()


async def download(
    kernel: Kernel,
    files: Sequence[str | Path],
    dest: str | Path = ".",
    *,
    show_progress: bool = False,
    progress: ProgressCallback | None = None,
    paths_per_request: int = DOWNLOAD_PATHS_PER_REQUEST,
) -> DownloadResult:
    """Download session paths (relative to its work directory) into ``dest``.

    ``progress`` gets (bytes so far, 0): the total is not known in advance.
    """
    target = await asyncio.to_thread(_prepare_dest, Path(dest))
    paths = [str(f) for f in files]
    names: list[str] = []
    with progress_sink(0, "Downloading", show_progress, progress) as advance:
        for start in range(0, len(paths), paths_per_request):
            batch = paths[start : start + paths_per_request]
            names += await _download_some(kernel, batch, target, advance)
    return DownloadResult(names)
