"""Download within the manager's limits (protocol doc §3.10).

At most `DOWNLOAD_PATHS_PER_REQUEST` paths go in one request; each multipart part (a tar
archive) streams to a temporary file and is extracted with `tarsafe`. When the server refuses
a batch, a listing tells what may be too large for one archive: a file is split in the
session, fetched in pieces and joined locally with a checksum check; a folder is fetched
entry by entry (the same way, recursively) into a hidden staging folder, moved into place
only once all of it arrived.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import shlex
import shutil
import tarfile
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
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

__all__ = ["download", "fetch_digests"]

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
    try:
        with os.fdopen(fd, "wb") as f:
            while chunk := await part.read_chunk(READ_SIZE):
                await asyncio.to_thread(f.write, chunk)
                advance(len(chunk))
    except BaseException:  # a body cut short: no half archive left in the destination
        await asyncio.to_thread(os.unlink, name)
        raise
    return Path(name)


async def _each_part(
    kernel: Kernel,
    paths: Sequence[str],
    handle: Callable[[aiohttp.BodyPartReader], Awaitable[None]],
) -> None:
    """Request the download of ``paths`` and give ``handle`` each part, its headers checked.

    Errors while ``handle`` reads a part are translated too: a truncated body is one.
    """
    async with kernel.session.request(
        kernel.session.download_method,
        kernel.request_path("/download"),
        query=kernel.request_query(),
        json_body={"files": [kernel.work_path(p) for p in paths]},  # a folder view's too
    ) as resp:
        try:
            reader = aiohttp.MultipartReader.from_response(resp)
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader):
                    raise TransferError("nested multipart in a download response")
                _check_part_headers(part)
                await handle(part)
        except (ValueError, AssertionError) as e:
            raise TransferError(f"malformed download response: {e}") from e
        except aiohttp.ClientError as e:
            raise BackendClientError(f"download interrupted: {e}") from e


async def _download_batch(
    kernel: Kernel, paths: Sequence[str], dest: Path, advance: Callable[[int], None]
) -> list[str]:
    names: list[str] = []

    async def extract(part: aiohttp.BodyPartReader) -> None:
        archive = await _save_part(part, dest, advance)
        try:
            names.extend(await asyncio.to_thread(safe_extract, archive, dest))
        finally:
            await asyncio.to_thread(archive.unlink, missing_ok=True)

    await _each_part(kernel, paths, extract)
    return names


# Archives up to this many bytes in all are hashed in the event loop: a fraction of a
# millisecond, where a thread hop waits for the loop's other work (a sync's listings arrive
# with the answer to its comparisons).
_DIGESTS_IN_LOOP = 128 * 1024


async def fetch_digests(kernel: Kernel, paths: Sequence[str]) -> dict[str, str]:
    """The SHA-256 of each session file in ``paths`` (one request's worth, each file's
    archive under the download limit), read in memory and written nowhere: what a comparison
    needs, in one round trip and no disk work. A path that is no regular file, or that no
    archive held, is left out of the answer."""
    archives: list[bytes] = []

    async def keep(part: aiohttp.BodyPartReader) -> None:
        archives.append(bytes(await part.read()))

    await _each_part(kernel, paths, keep)
    # One part per path, in request order (protocol doc §3.10).
    by_path = dict(zip(paths, archives, strict=False))
    if sum(map(len, archives)) <= _DIGESTS_IN_LOOP:
        return _archive_digests(by_path)
    return await asyncio.to_thread(_archive_digests, by_path)


def _archive_digests(archives: dict[str, bytes]) -> dict[str, str]:
    """Each path's digest from its archive: the regular file stored under its base name (a
    symlink or a folder proves nothing; blocking)."""
    found = {}
    for path, archive in archives.items():
        try:
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
                member = tar.getmember(PurePosixPath(path).name)
                data = tar.extractfile(member) if member.isreg() else None
                if data is not None:
                    found[path] = hashlib.sha256(data.read()).hexdigest()
        except (KeyError, tarfile.TarError):
            continue  # not in it, or not an archive: unproven
    return found


def _refused(e: BackendAPIError) -> bool:
    """How managers refuse a download they find too large (protocol doc §3.10)."""
    return e.status in (400, 500)


async def _oversized(
    kernel: Kernel, paths: Sequence[str], limit: int
) -> tuple[list[str], list[str]]:
    """Which of ``paths`` may be too large for one archive: (large files, folders).

    A listing gives no folder's total size, so every folder is a candidate.
    """
    files: list[str] = []
    folders: list[str] = []
    by_parent: dict[str, list[str]] = {}
    for path in paths:
        by_parent.setdefault(str(PurePosixPath(path).parent), []).append(path)
    for parent, children in by_parent.items():
        listing = await kernel.list_files(parent)
        entries = {e.filename: e for e in listing.files}
        for path in children:
            entry = entries.get(PurePosixPath(path).name)
            if entry is None:
                continue
            if entry.is_dir:
                folders.append(path)
            elif entry.mode.startswith("-") and entry.size > limit - 16 * 1024:
                files.append(path)
    return files, folders


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
        lines = (await batch_output(kernel, split, f"splitting {path}", stream=True)).split()
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
        remove = f"rm -f -- {qprefix}*"
        await best_effort(batch_output(kernel, remove, "removing pieces", stream=True))
    return [remote.name]


async def _download_some(
    kernel: Kernel, paths: Sequence[str], dest: Path, advance: Callable[[int], None]
) -> list[str]:
    """One batch; if the server refuses it, retry large files in chunks, folders by entry."""
    try:
        return await _download_batch(kernel, paths, dest, advance)
    except BackendAPIError as e:
        if not _refused(e):
            raise
        try:
            large, folders = await _oversized(kernel, paths, DOWNLOAD_FILE_LIMIT)
        except BackendAPIError:
            raise e from None
        if not large and not folders:
            raise
    rest = [p for p in paths if p not in large and p not in folders]
    names = await _download_batch(kernel, rest, dest, advance) if rest else []
    for path in large:
        names += await _download_in_chunks(kernel, path, dest, advance)
    for path in folders:
        # Alone, the folder may fit: the refusal may have been a sibling's doing.
        names += await _download_folder(kernel, path, dest, advance, whole_first=len(paths) > 1)
    return names


async def _download_folder(
    kernel: Kernel,
    folder: str,
    dest: Path,
    advance: Callable[[int], None],
    *,
    whole_first: bool,
) -> list[str]:
    """A folder (too large for one archive): its entries staged, then moved into ``dest``."""
    if whole_first:
        try:
            return await _download_batch(kernel, [folder], dest, advance)
        except BackendAPIError as e:
            if not _refused(e):
                raise
    staging = Path(await asyncio.to_thread(tempfile.mkdtemp, ".tmp", ".bai-dl-", dest))
    try:
        names = await _download_entries(kernel, folder, staging, advance)
        await asyncio.to_thread(_move_into, staging, dest)
    finally:
        await asyncio.to_thread(shutil.rmtree, staging, ignore_errors=True)
    return names


async def _download_entries(
    kernel: Kernel, folder: str, dest: Path, advance: Callable[[int], None]
) -> list[str]:
    """``folder``'s entries into ``dest/<its name>``, batched, through `_download_some`."""
    name = PurePosixPath(folder).name
    target = dest / name if name else dest
    await asyncio.to_thread(target.mkdir, exist_ok=True)
    listing = await kernel.list_files(folder)
    children: list[str] = []
    for entry in listing.files:
        if entry.filename in ("", ".", "..") or "/" in entry.filename:
            raise TransferError(f"refusing listing entry of {folder!r}: {entry.filename!r}")
        children.append(f"{folder.rstrip('/')}/{entry.filename}")
    names = [name] if name else []
    for start in range(0, len(children), DOWNLOAD_PATHS_PER_REQUEST):
        batch = children[start : start + DOWNLOAD_PATHS_PER_REQUEST]
        fetched = await _download_some(kernel, batch, target, advance)
        names += [f"{name}/{n}" if name else n for n in fetched]
    return names


def _move_into(staged: Path, dest: Path) -> None:
    """Move everything under ``staged`` into ``dest``, entry by entry (blocking).

    Folders are merged; each file (or symlink) lands with one atomic rename.
    """
    try:
        for root, dirs, files in os.walk(staged):
            here = Path(root)
            there = dest / here.relative_to(staged)
            if not there.is_dir() or there.is_symlink():
                there.mkdir()  # fails on a file or a symlink in the way: not written through
            for entry in [*files, *(d for d in dirs if (here / d).is_symlink())]:
                os.replace(here / entry, there / entry)
    except OSError as e:
        raise TransferError(f"cannot put the downloaded folder into {str(dest)!r}: {e}") from e


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
