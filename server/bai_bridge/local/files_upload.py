"""Receiving an upload (§3.9): parts to temporary files, renamed in place at the end.

Each part goes to a hidden temporary file in its target directory, so the final rename is
atomic and never crosses a file system. Only when the whole request body has been read are
the files renamed into place; any failure (a limit, a truncated body, a client gone away, a
hostile name) removes every temporary file and every directory this request created.

Small parts (most uploads: source files of a few KiB) are read into memory and written in
one worker-thread hop per few MiB, so a request of twenty files costs a couple of hops,
not forty; a part larger than `_FLUSH_SIZE` is streamed to its temporary file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from bai_bridge.local.files_limits import FileLimits
from bai_bridge.local.files_staging import UploadTarget, check_name, write_all
from bai_bridge.local.files_threads import in_thread
from bai_bridge.local.problems import InvalidAPIParams

log = logging.getLogger(__name__)

_READ_CHUNK = 256 * 1024
# A part is held in memory up to this size; a larger one is streamed to disk in steps of it.
_FLUSH_SIZE = 1 << 20
# Parts received whole are written out once this much waits in memory.
_PENDING_SIZE = 4 << 20
_ABSOLUTE_FILENAME = re.compile(r'(?i);\s*filename\s*=\s*"?\s*[/\\]')
# The usual header, as our client and the official one send it: read without aiohttp's
# general parser (it rebuilds an escaping pattern on every call). Anything else (quotes,
# backslashes, `;`, `filename*=`, a leading slash or space) takes the general parser.
_PLAIN_DISPOSITION = re.compile(r'form-data; name="[^"\\;]*"; filename="([^\s"\\;/][^"\\;]*)"')
_IDENTITY_ENCODINGS = ("", "identity")
_PLAIN_TRANSFER_ENCODINGS = ("", "binary", "8bit", "7bit")

Pending = list[tuple[str, bytes]]  # parts received whole: (file name, content)


async def multipart_reader(request: web.Request) -> aiohttp.MultipartReader:
    """The request's multipart reader; a 400 problem if the body is not multipart."""
    try:
        return await request.multipart()
    except (AssertionError, ValueError) as e:  # aiohttp's words for "not multipart"
        raise InvalidAPIParams(f"Uploads must be multipart/form-data: {e}") from e


async def receive_upload(
    reader: aiohttp.MultipartReader,
    work_dir: Path,
    limits: FileLimits,
    *,
    mounts: Sequence[Path] = (),
) -> list[str]:
    """Store every part of `reader` under `work_dir`; the relative names written.

    `mounts`: the folders mounted in the work dir (through symlinks), writable too.
    """
    # `in_thread` finishes even when cancelled, so whatever a hop staged is known to
    # `target` for the cleanup in `finally`.
    target = UploadTarget(work_dir, mounts)
    pending: Pending = []
    try:
        count = 0
        while (part := await _next_part(reader)) is not None:
            count += 1
            if count > limits.max_upload_files:
                raise InvalidAPIParams("Too many files")
            filename = _part_filename(part)
            head, whole = await _read_head(part, limits.max_upload_file_size)
            if whole:
                pending.append((filename, head))
                if sum(len(data) for _, data in pending) >= _PENDING_SIZE:
                    await in_thread(target.write_all, pending)
                    pending = []
                continue
            await in_thread(target.write_all, pending)
            pending = []
            await _stream_part(part, target, filename, head, limits.max_upload_file_size)
        return await in_thread(target.finish, pending)
    finally:
        if not target.closed:  # `finish` closes it; anything else left it open
            await in_thread(target.close)


async def _next_part(reader: aiohttp.MultipartReader) -> aiohttp.BodyPartReader | None:
    try:
        part = await _next_of(reader)
    except ValueError as e:  # aiohttp's word for a malformed or cut-off multipart body
        raise InvalidAPIParams(f"Malformed multipart body: {e}") from e
    except HttpProcessingError as e:  # a part's header holds a NUL or control character
        raise InvalidAPIParams(f"Malformed header in a multipart part: {e.message}") from e
    if part is None or isinstance(part, aiohttp.BodyPartReader):
        return part
    raise InvalidAPIParams("Nested multipart bodies are not accepted.")


async def _next_of(
    reader: aiohttp.MultipartReader,
) -> aiohttp.MultipartReader | aiohttp.BodyPartReader | None:
    """`reader.next()` (aiohttp 3.14's steps) minus its look for a leading `_charset_` field:
    aiohttp runs it on every part (it forgets the last part before checking that one came
    first), and its Content-Disposition parser rebuilds an escaping pattern per call, ~70 µs
    a part, a tenth of a 500-file sync's time here. Parts are files read as bytes: a
    `_charset_` field has no file name and is refused as any such field is. An aiohttp
    without those steps (the lock pins 3.14.5) gets its own `next()`."""
    if not hasattr(reader, "_maybe_release_last_part") or not hasattr(reader, "_at_bof"):
        return await reader.next()
    if reader._at_eof:
        return None
    await reader._maybe_release_last_part()
    if reader._at_bof:
        await reader._read_until_first_boundary()
        reader._at_bof = False
    else:
        await reader._read_boundary()
    if reader._at_eof:  # the closing boundary
        return None
    reader._last_part = await reader.fetch_next_part()
    return reader._last_part


def _part_filename(part: aiohttp.BodyPartReader) -> str:
    """The part's file name with `/` separators; 400 for an encoded part or no file name."""
    _check_encodings(part)
    filename = _client_filename(part).replace("\\", "/")  # the client's OS separators
    check_name(filename)  # the checks needing no file system, before the body is read
    return filename


def _client_filename(part: aiohttp.BodyPartReader) -> str:
    """The part's file name as the client meant it.

    aiohttp's client (the official Backend.AI client's transport) percent-encodes a plain
    ``filename=`` (``sub/a.txt`` arrives as ``sub%2Fa.txt``) and its server does not decode
    it; ``filename*=`` arrives decoded already.
    """
    header = part.headers.get(aiohttp.hdrs.CONTENT_DISPOSITION, "")
    plain = _PLAIN_DISPOSITION.fullmatch(header)
    if plain is not None:
        return _unquoted(plain[1])
    _, params = parse_content_disposition(header)
    filename = content_disposition_filename(params, "filename")  # part.filename, parsed once
    if not filename:
        raise InvalidAPIParams(f"The form field {part.name!r} has no file name.")
    if _ABSOLUTE_FILENAME.search(header):  # aiohttp strips the leading slash; we refuse it
        raise InvalidAPIParams(f"Absolute paths are not allowed: {filename!r}")
    if "filename*" in params:
        return filename
    return _unquoted(filename)


def _unquoted(filename: str) -> str:
    if "%" not in filename:
        return filename
    try:
        return unquote(filename, errors="strict")
    except UnicodeDecodeError as e:
        raise InvalidAPIParams(f"The file name is not valid UTF-8: {filename!r}") from e


def _check_encodings(part: aiohttp.BodyPartReader) -> None:
    encoding = part.headers.get(aiohttp.hdrs.CONTENT_ENCODING, "").lower()
    transfer = part.headers.get(aiohttp.hdrs.CONTENT_TRANSFER_ENCODING, "").lower()
    if encoding not in _IDENTITY_ENCODINGS or transfer not in _PLAIN_TRANSFER_ENCODINGS:
        raise InvalidAPIParams("Upload parts must be sent unencoded (binary).")


async def _read_head(part: aiohttp.BodyPartReader, max_size: int) -> tuple[bytes, bool]:
    """Up to `_FLUSH_SIZE` bytes of the part, and whether that is all of it."""
    buffer = bytearray()
    size = 0
    while chunk := await _read_chunk(part):
        size += len(chunk)
        if size >= max_size:
            raise InvalidAPIParams("Too large file")
        buffer += chunk
        if len(buffer) >= _FLUSH_SIZE:
            return bytes(buffer), False
    return bytes(buffer), True


async def _stream_part(
    part: aiohttp.BodyPartReader, target: UploadTarget, filename: str, head: bytes, max_size: int
) -> None:
    """Stream a large part to its temporary file, `head` (already read) first."""
    staged = await in_thread(target.stage, filename)
    size = len(head)
    buffer = bytearray(head)
    while chunk := await _read_chunk(part):
        size += len(chunk)
        if size >= max_size:
            raise InvalidAPIParams("Too large file")
        buffer += chunk
        if len(buffer) >= _FLUSH_SIZE:
            await in_thread(write_all, staged.file_fd, bytes(buffer))
            buffer.clear()
    if buffer:
        await in_thread(write_all, staged.file_fd, bytes(buffer))
    os.close(staged.file_fd)
    staged.file_fd = -1


async def _read_chunk(part: aiohttp.BodyPartReader) -> bytes:
    try:
        return await part.read_chunk(_READ_CHUNK)
    except ValueError as e:
        raise InvalidAPIParams(f"Malformed multipart body: {e}") from e
