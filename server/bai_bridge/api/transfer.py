"""Uploads and downloads within the manager's limits (protocol doc §3.9, §3.10).

Upload streams files from disk in multipart requests of at most `UPLOAD_FILES_PER_REQUEST`
parts. A file at or above `UPLOAD_FILE_LIMIT` goes up as chunks under hidden temporary
names, which a batch-mode shell command in the session joins, checks against the file's
SHA-256 and renames into place, so large files reach real clusters too.

Download asks for at most `DOWNLOAD_PATHS_PER_REQUEST` paths at a time, streams each
multipart part (a tar archive) to a temporary file and extracts it with `tarsafe`. When the
server refuses a batch and a listing shows a file too large for one archive, that file is
split in the session, fetched in pieces and joined locally with a checksum check.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import shlex
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import aiohttp
import attrs
from aiohttp import hdrs, payload

from .errors import BackendAPIError, BackendClientError, TransferError
from .models import BatchOptions, DownloadResult, ExecutionResult, UploadResult
from .tarsafe import safe_extract

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = [
    "DOWNLOAD_PATHS_PER_REQUEST",
    "UPLOAD_FILES_PER_REQUEST",
    "UPLOAD_FILE_LIMIT",
    "ProgressCallback",
    "download",
    "plan_upload",
    "upload",
]

log = logging.getLogger(__name__)

UPLOAD_FILES_PER_REQUEST = 20
UPLOAD_FILE_LIMIT = 1024 * 1024  # the manager refuses files of this size or more
CHUNK_SIZE = UPLOAD_FILE_LIMIT - 64 * 1024
DOWNLOAD_PATHS_PER_REQUEST = 5
DOWNLOAD_FILE_LIMIT = 1024 * 1024  # each path's tar archive must stay under this
DOWNLOAD_CHUNK_SIZE = 768 * 1024  # leaves room for the tar headers and padding
READ_SIZE = 256 * 1024

# progress(bytes_done, bytes_total), called from the event loop.
ProgressCallback = Callable[[int, int], None]


@attrs.frozen
class Piece:
    """A byte range of a local file sent as one multipart part named ``remote``."""

    local: Path
    remote: str
    offset: int
    length: int


@attrs.frozen
class ChunkedFile:
    """A large file: its chunks' remote names and the checksum to verify after joining."""

    remote: str
    sha256: str
    parts: tuple[str, ...]


@attrs.frozen
class UploadPlan:
    pieces: tuple[Piece, ...]
    chunked: tuple[ChunkedFile, ...]
    names: tuple[str, ...]

    @property
    def total(self) -> int:
        return sum(p.length for p in self.pieces)


class FileSlicePayload(payload.Payload):
    """A part streamed from ``[offset, offset+length)`` of a file, read in a worker thread."""

    def __init__(self, piece: Piece, on_bytes: Callable[[int], None]) -> None:
        super().__init__(piece, content_type="application/octet-stream")
        self._size = piece.length
        self._piece = piece
        self._on_bytes = on_bytes
        # Raw (not percent-encoded) name: managers take it as the path to write.
        self.set_content_disposition(
            "form-data", quote_fields=False, name="src", filename=piece.remote
        )

    async def write(self, writer: Any) -> None:
        piece = self._piece
        with await asyncio.to_thread(open, piece.local, "rb") as f:
            await asyncio.to_thread(f.seek, piece.offset)
            remaining = piece.length
            while remaining > 0:
                chunk = await asyncio.to_thread(f.read, min(READ_SIZE, remaining))
                if not chunk:
                    raise TransferError(f"{piece.local} shrank while it was being uploaded")
                await writer.write(chunk)
                remaining -= len(chunk)
                self._on_bytes(len(chunk))

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file slice is streamed, not decoded")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _remote_name(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        raise ValueError(f'file "{path}" is outside of the base directory "{base}"') from None


def plan_upload(
    files: Sequence[str | Path], basedir: str | Path | None, *, file_limit: int = UPLOAD_FILE_LIMIT
) -> UploadPlan:
    """Check every path and split large files into chunks; blocking (hashes large files).

    Raises ValueError for a path outside ``basedir`` and FileNotFoundError/IsADirectoryError
    for what is not a regular file, before anything is sent.
    """
    base = Path.cwd() if basedir is None else Path(basedir).resolve()
    resolved = [(Path(f).resolve(), f) for f in files]
    names = [_remote_name(path, base) for path, _ in resolved]
    pieces: list[Piece] = []
    chunked: list[ChunkedFile] = []
    for (path, given), name in zip(resolved, names, strict=True):
        if not path.is_file():
            raise FileNotFoundError(f"not a regular file: {given}")
        size = path.stat().st_size
        if size < file_limit:
            pieces.append(Piece(path, name, 0, size))
            continue
        chunk_size = min(CHUNK_SIZE, file_limit - 1)
        token = uuid.uuid4().hex[:12]
        remote = PurePosixPath(name)
        parts = []
        for index, offset in enumerate(range(0, size, chunk_size)):
            part = str(remote.with_name(f".{remote.name}.bai-part-{token}-{index:05d}"))
            pieces.append(Piece(path, part, offset, min(chunk_size, size - offset)))
            parts.append(part)
        chunked.append(ChunkedFile(name, _sha256(path), tuple(parts)))
    return UploadPlan(tuple(pieces), tuple(chunked), tuple(names))


def join_command(chunked: ChunkedFile) -> str:
    """Shell command joining the chunks into place after a checksum check (run in /home/work).

    The chunks are removed whatever happens; the target appears only when the sum matches.
    """
    remote = PurePosixPath(chunked.remote)
    tmp = shlex.quote(str(remote.with_name(f".{remote.name}.bai-tmp-{uuid.uuid4().hex[:12]}")))
    parts = " ".join(shlex.quote(p) for p in chunked.parts)
    target = shlex.quote(chunked.remote)
    return (
        f"cat -- {parts} > {tmp}; status=$?; rm -f -- {parts}; "
        f"if [ $status -ne 0 ]; then rm -f -- {tmp}; exit 1; fi; "
        f'if [ "$(sha256sum -- {tmp} | cut -d" " -f1)" = {chunked.sha256} ]; '
        f"then mv -f -- {tmp} {target}; "
        f"else rm -f -- {tmp}; echo 'checksum mismatch for {target}' >&2; exit 1; fi"
    )


def remove_command(plan: UploadPlan) -> str:
    parts = " ".join(shlex.quote(p) for c in plan.chunked for p in c.parts)
    return f"rm -f -- {parts}"


@contextmanager
def _progress_sink(
    total: int, desc: str, show_progress: bool, progress: ProgressCallback | None
) -> Iterator[Callable[[int], None]]:
    """A per-byte-count callback feeding the caller's callback and, if asked, a tqdm bar."""
    bar = None
    if show_progress:
        from tqdm import tqdm

        bar = tqdm(desc=desc, total=total, unit="B", unit_scale=True)
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        if bar is not None:
            bar.update(n)
        if progress is not None:
            progress(done, total)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.close()


async def _send_batch(
    kernel: Kernel, batch: Sequence[Piece], advance: Callable[[int], None]
) -> None:
    def body() -> aiohttp.MultipartWriter:
        writer = aiohttp.MultipartWriter("form-data")
        for piece in batch:
            writer.append_payload(FileSlicePayload(piece, advance))
        return writer

    path = kernel._path("/upload")
    async with kernel.session.request(
        "POST", path, query=kernel._query(), body=body, content_type="multipart/form-data"
    ):
        pass


async def _join(kernel: Kernel, chunked: ChunkedFile) -> None:
    await _batch_output(kernel, join_command(chunked), f"reassembling {chunked.remote}")


async def upload(
    kernel: Kernel,
    files: Sequence[str | Path],
    basedir: str | Path | None = None,
    *,
    show_progress: bool = False,
    progress: ProgressCallback | None = None,
    file_limit: int = UPLOAD_FILE_LIMIT,
    files_per_request: int = UPLOAD_FILES_PER_REQUEST,
) -> UploadResult:
    """Upload ``files`` (paths relative to ``basedir``, default the working directory)."""
    plan = await asyncio.to_thread(plan_upload, files, basedir, file_limit=file_limit)
    pieces = plan.pieces
    try:
        with _progress_sink(plan.total, "Uploading", show_progress, progress) as advance:
            for start in range(0, len(pieces), files_per_request):
                await _send_batch(kernel, pieces[start : start + files_per_request], advance)
    except Exception:
        if plan.chunked:  # do not leave hidden chunks behind in the session
            await _best_effort(_batch_output(kernel, remove_command(plan), "removing chunks"))
        raise
    for chunked in plan.chunked:
        await _join(kernel, chunked)
    return UploadResult(list(plan.names))


async def _best_effort(cleanup: Awaitable[object]) -> None:
    try:
        await cleanup
    except Exception as e:
        log.warning("cleanup in the session failed: %s", e)


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
        method, kernel._path("/download"), query=kernel._query(), json_body={"files": list(paths)}
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


async def _batch_output(kernel: Kernel, command: str, what: str) -> str:
    """Run a shell command in the session (batch mode); its stdout, or `TransferError`."""
    from .runloop import run_code

    out: list[str] = []
    err: list[str] = []
    last: ExecutionResult | None = None
    async for result in run_code(kernel, "", mode="batch", opts=BatchOptions(exec=command)):
        out += [getattr(i, "text", "") for i in result.console if i.kind == "stdout"]
        err += [getattr(i, "text", "") for i in result.console if i.kind == "stderr"]
        last = result
    if last is None or last.status != "finished" or last.exit_code != 0:
        detail = "".join(err).strip() or f"exit code {last.exit_code if last else None}"
        raise TransferError(f"{what} failed in the session: {detail}")
    return "".join(out)


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
        lines = (await _batch_output(kernel, split, f"splitting {path}")).split()
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
        await _best_effort(_batch_output(kernel, f"rm -f -- {qprefix}*", "removing pieces"))
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
    with _progress_sink(0, "Downloading", show_progress, progress) as advance:
        for start in range(0, len(paths), paths_per_request):
            batch = paths[start : start + paths_per_request]
            names += await _download_some(kernel, batch, target, advance)
    return DownloadResult(names)
