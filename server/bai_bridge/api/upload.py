"""Upload within the manager's limits (protocol doc §3.9).

Files stream from disk in multipart requests of at most `UPLOAD_FILES_PER_REQUEST` parts. A
file at or above `UPLOAD_FILE_LIMIT` goes up as chunks under hidden temporary names, which a
batch-mode shell command in the session joins, checks against the file's SHA-256 and renames
into place, so large files reach real clusters too. Paths outside ``basedir`` are refused
before anything is sent.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shlex
import stat
import uuid
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, BinaryIO
from urllib.parse import quote

import aiohttp
import attrs
from aiohttp import hdrs, payload

from .errors import TransferError
from .models import UploadResult
from .transfer import (
    READ_SIZE,
    UPLOAD_FILE_LIMIT,
    UPLOAD_FILES_PER_REQUEST,
    ProgressCallback,
    batch_output,
    best_effort,
    progress_sink,
)

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = [
    "ChunkedFile",
    "StagedFile",
    "UploadPlan",
    "join_command",
    "plan_upload",
    "stage_large",
    "upload",
]

CHUNK_SIZE = UPLOAD_FILE_LIMIT - 64 * 1024
REQUESTS_IN_FLIGHT = 6  # a large file's chunks (or many files' requests) side by side
SMALL_PIECE = READ_SIZE  # read whole into memory (a batch of them in one thread hop)
INLINE_FILES = 4  # this many small files are planned and read in the event loop


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
        self.headers[hdrs.CONTENT_DISPOSITION] = disposition(piece.remote)

    async def write(self, writer: Any) -> None:
        piece = self._piece
        f, chunk = await asyncio.to_thread(_open_at, piece, min(READ_SIZE, piece.length))
        with f:
            remaining = piece.length
            while remaining > 0:
                if not chunk:
                    raise TransferError(f"{piece.local} shrank while it was being uploaded")
                await writer.write(chunk)
                remaining -= len(chunk)
                self._on_bytes(len(chunk))
                if remaining > 0:
                    chunk = await asyncio.to_thread(f.read, min(READ_SIZE, remaining))

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        raise TypeError("a file slice is streamed, not decoded")


def _open_at(piece: Piece, first: int) -> tuple[BinaryIO, bytes]:
    """The piece's file opened at its offset, and its first `first` bytes (blocking)."""
    f = piece.local.open("rb")
    try:
        f.seek(piece.offset)
        return f, f.read(first)
    except BaseException:
        f.close()
        raise


def _read_whole(pieces: Sequence[Piece]) -> list[bytes]:
    """The content of each (small) piece, read in one go (blocking)."""
    contents = []
    for piece in pieces:
        fd = os.open(piece.local, os.O_RDONLY | os.O_CLOEXEC)
        try:
            contents.append(_pread_exactly(fd, piece))
        finally:
            os.close(fd)
    return contents


def _pread_exactly(fd: int, piece: Piece) -> bytes:
    """The piece's bytes (one read for a local file; more if the file system reads short)."""
    data = os.pread(fd, piece.length, piece.offset) if piece.length else b""
    while len(data) < piece.length:
        more = os.pread(fd, piece.length - len(data), piece.offset + len(data))
        if not more:
            raise TransferError(f"{piece.local} shrank while it was being uploaded")
        data += more
    return data


def disposition(remote: str) -> str:
    """The part's Content-Disposition. A manager writes a plain ``filename=`` as it is, so the
    name goes raw, not percent-encoded (aiohttp's default); a name with a ``%`` in it goes as
    RFC 5987 ``filename*=``, which aiohttp servers decode, so that it is never mistaken for an
    encoded one (the embedded server decodes the official client's encoded names)."""
    if "\r" in remote or "\n" in remote:
        raise ValueError(f"a line break in a file name cannot be sent: {remote!r}")
    if "%" in remote:
        return f"form-data; name=\"src\"; filename*=utf-8''{quote(remote, safe='')}"
    escaped = remote.replace("\\", "\\\\").replace('"', '\\"')
    return f'form-data; name="src"; filename="{escaped}"'


def _part_head(boundary: bytes, remote: str) -> bytes:
    """A part's boundary line and headers, as aiohttp's writer would put them."""
    return b"--%s\r\nContent-Type: application/octet-stream\r\nContent-Disposition: %s\r\n\r\n" % (
        boundary,
        disposition(remote).encode("utf-8"),
    )


def encode_multipart(pieces: Sequence[Piece], contents: Sequence[bytes]) -> payload.BytesPayload:
    """One multipart/form-data body of in-memory parts: a single write on the wire."""
    boundary = uuid.uuid4().hex.encode()
    chunks: list[bytes] = []
    for piece, data in zip(pieces, contents, strict=True):
        chunks += (_part_head(boundary, piece.remote), data, b"\r\n")
    chunks.append(b"--%s--\r\n" % boundary)
    content_type = f"multipart/form-data; boundary={boundary.decode()}"
    return payload.BytesPayload(b"".join(chunks), content_type=content_type)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


class _Resolver:
    """`Path.resolve` for many files in few folders, with each file's stat: a folder is
    resolved once, and a file that is no symlink is its resolved folder plus its name, its
    ``lstat`` its stat (one system call per file; blocking)."""

    def __init__(self) -> None:
        self._folders: dict[str, Path] = {}

    def __call__(self, path: Path) -> tuple[Path, os.stat_result | None]:
        """The resolved path and, when already known, its stat."""
        name = path.name
        try:
            st: os.stat_result | None = os.lstat(path)
        except OSError:
            st = None  # missing or unreadable: resolved as given, refused later
        if name in ("", ".", "..") or st is None or stat.S_ISLNK(st.st_mode):
            return path.resolve(), None
        folder = str(path.parent)
        resolved = self._folders.get(folder)
        if resolved is None:
            resolved = self._folders[folder] = path.parent.resolve()
        return resolved / name, st


def _regular_size(path: Path, given: str | Path, st: os.stat_result | None) -> int:
    if st is None:
        try:
            st = path.stat()
        except OSError:  # missing, a loop, unreadable: as Path.is_file says
            st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise FileNotFoundError(f"not a regular file: {given}")
    return st.st_size


def _remote_name(path: Path, base: Path, into: str) -> str:
    try:
        name = path.relative_to(base).as_posix()
        return f"{into}/{name}" if into else name
    except ValueError:
        raise ValueError(f'file "{path}" is outside of the base directory "{base}"') from None


def plan_upload(
    files: Sequence[str | Path],
    basedir: str | Path | None,
    *,
    file_limit: int = UPLOAD_FILE_LIMIT,
    into: str = "",
    sha256_of: Callable[[Path], str] = _sha256,
) -> UploadPlan:
    """Check every path and split large files into chunks; blocking (hashes large files,
    with ``sha256_of`` when their digest is known already).

    Raises ValueError for a path outside ``basedir`` and FileNotFoundError/IsADirectoryError
    for what is not a regular file, before anything is sent.
    """
    base = Path.cwd() if basedir is None else Path(basedir).resolve()
    resolve = _Resolver()
    resolved = [(*resolve(Path(f)), f) for f in files]
    names = [_remote_name(path, base, into) for path, _, _ in resolved]
    pieces: list[Piece] = []
    chunked: list[ChunkedFile] = []
    for (path, st, given), name in zip(resolved, names, strict=True):
        size = _regular_size(path, given, st)
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
        chunked.append(ChunkedFile(name, sha256_of(path), tuple(parts)))
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


def remove_command(chunked: Sequence[ChunkedFile]) -> str:
    parts = " ".join(shlex.quote(p) for c in chunked for p in c.parts)
    return f"rm -f -- {parts}"


def _few_small(files: Sequence[str | Path], file_limit: int) -> bool:
    """Whether ``files`` are a few small regular files (planning and reading them takes
    less than a thread hop, which waits for the interpreter while the loop is busy)."""
    if len(files) > INLINE_FILES:
        return False
    try:
        sizes = [os.stat(f).st_size for f in files]
    except OSError:
        return False  # the planning in a thread says what is wrong
    return all(size <= min(SMALL_PIECE, file_limit - 1) for size in sizes)


def _all_small(batch: Sequence[Piece]) -> bool:
    return all(p.length <= SMALL_PIECE for p in batch)


def _plan_and_read(
    files: Sequence[str | Path],
    basedir: str | Path | None,
    file_limit: int,
    per_request: int,
    into: str,
) -> tuple[UploadPlan, list[tuple[Piece, ...]], list[bytes] | None]:
    """The plan, its requests, and the first request's contents when they are all small: a
    request of a few small files (sync's usual one) costs one worker-thread hop (blocking)."""
    plan = plan_upload(files, basedir, file_limit=file_limit, into=into)
    requests = _requests(plan, per_request)
    first = requests[0] if requests else ()
    return plan, requests, _read_whole(first) if _all_small(first) else None


async def _send_batch(
    kernel: Kernel,
    batch: Sequence[Piece],
    advance: Callable[[int], None],
    contents: list[bytes] | None = None,
) -> None:
    """One request. Small pieces (most source files) are read in one worker-thread hop (or
    were, given as ``contents``) and sent as one body; a batch with a large piece streams
    every piece from disk."""
    body: Callable[[], payload.Payload]
    in_memory = _all_small(batch)
    if in_memory:
        if contents is None:
            contents = await asyncio.to_thread(_read_whole, batch)
        body = partial(encode_multipart, batch, contents)
    else:

        def body() -> payload.Payload:
            writer = aiohttp.MultipartWriter("form-data")
            for piece in batch:
                writer.append_payload(FileSlicePayload(piece, advance))
            return writer

    path = kernel.request_path("/upload")
    async with kernel.session.request(
        "POST", path, query=kernel.request_query(), body=body, content_type="multipart/form-data"
    ):
        pass
    if in_memory:
        advance(sum(p.length for p in batch))


def _requests(plan: UploadPlan, per_request: int) -> list[tuple[Piece, ...]]:
    """The plan's pieces in requests: whole files ``per_request`` at a time, in order, and
    each chunk of a large file in a request of its own (the chunks travel, and are written,
    side by side, not one after another in one long request)."""
    chunks = {part for chunked in plan.chunked for part in chunked.parts}
    whole = [p for p in plan.pieces if p.remote not in chunks]
    requests = [tuple(whole[i : i + per_request]) for i in range(0, len(whole), per_request)]
    return requests + [(p,) for p in plan.pieces if p.remote in chunks]


async def _send_all(
    kernel: Kernel,
    requests: list[tuple[Piece, ...]],
    advance: Callable[[int], None],
    first: list[bytes] | None,
) -> None:
    """Send the requests, `REQUESTS_IN_FLIGHT` at a time; ``first``: the first one's
    contents, read already. The first failure is raised (as it was) once all have ended."""
    gate = asyncio.Semaphore(REQUESTS_IN_FLIGHT)

    async def send(index: int, batch: tuple[Piece, ...]) -> None:
        async with gate:
            await _send_batch(kernel, batch, advance, first if index == 0 else None)

    try:
        async with asyncio.TaskGroup() as group:
            for index, batch in enumerate(requests):
                group.create_task(send(index, batch))
    except ExceptionGroup as errors:
        raise errors.exceptions[0] from None


async def _join(kernel: Kernel, chunked: ChunkedFile) -> None:
    what = f"reassembling {chunked.remote}"
    await batch_output(kernel, join_command(chunked), what, stream=True)


async def upload(
    kernel: Kernel,
    files: Sequence[str | Path],
    basedir: str | Path | None = None,
    *,
    show_progress: bool = False,
    progress: ProgressCallback | None = None,
    file_limit: int = UPLOAD_FILE_LIMIT,
    files_per_request: int = UPLOAD_FILES_PER_REQUEST,
    into: str = "",
) -> UploadResult:
    """Upload ``files`` (paths relative to ``basedir``, default the working directory) to
    the same paths in the session's work dir, or in its folder ``into``."""
    plan_args = (files, basedir, file_limit, files_per_request, into)
    if _few_small(files, file_limit):  # a save's: planned and read at once, no thread hop
        plan, requests, contents = _plan_and_read(*plan_args)
    else:
        plan, requests, contents = await asyncio.to_thread(_plan_and_read, *plan_args)
    try:
        with progress_sink(plan.total, "Uploading", show_progress, progress) as advance:
            await _send_all(kernel, requests, advance, contents)
    except Exception:
        if plan.chunked:  # do not leave hidden chunks behind in the session
            await best_effort(batch_output(kernel, remove_command(plan.chunked), "removing chunks"))
        raise
    for chunked in plan.chunked:
        await _join(kernel, chunked)
    return UploadResult(list(plan.names))


@attrs.frozen
class StagedFile:
    """A large file's chunks in the session under hidden names, not joined yet: nothing the
    session holds is replaced until `place`, so they may travel before it is known that
    the file is to be replaced (a sync sends them while it lists the session)."""

    kernel: Kernel  # the whole kernel: it joins (the chunks' names include any folder)
    chunked: ChunkedFile

    async def place(self) -> None:
        """Join the chunks into the file (checked against its SHA-256); they are gone after."""
        await _join(self.kernel, self.chunked)

    async def discard(self) -> None:
        """Remove the chunks (best effort: a failure is logged)."""
        command = remove_command([self.chunked])
        await best_effort(batch_output(self.kernel, command, "removing chunks"))


async def stage_large(
    kernel: Kernel,
    file: str | Path,
    basedir: str | Path | None = None,
    *,
    file_limit: int = UPLOAD_FILE_LIMIT,
    into: str = "",
    sha256: str | None = None,
) -> StagedFile:
    """Send the chunks of a file at or above ``file_limit`` (ValueError for a smaller one),
    to be placed or discarded later; the chunks sent are removed when one fails.
    ``sha256``: the file's digest, known already (the join checks the chunks against it)."""
    sha256_of = _sha256 if sha256 is None else lambda _path: sha256
    plan = await asyncio.to_thread(
        plan_upload, [file], basedir, file_limit=file_limit, into=into, sha256_of=sha256_of
    )
    if not plan.chunked:
        raise ValueError(f"{file} is small enough to upload whole")
    try:
        await _send_all(kernel, _requests(plan, 1), lambda _n: None, None)
    except Exception:
        await best_effort(batch_output(kernel, remove_command(plan.chunked), "removing chunks"))
        raise
    return StagedFile(kernel, plan.chunked[0])
