"""Receiving an upload (§3.9): parts streamed to temporary files, renamed in place at the end.

Each part goes to a hidden temporary file in its target directory, so the final rename is
atomic and never crosses a file system. Only when the whole request body has been read are
the files renamed into place; any failure (a limit, a truncated body, a client gone away, a
hostile name) removes every temporary file and every directory this request created.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

import aiohttp
import attrs
from aiohttp import web
from aiohttp.multipart import content_disposition_filename, parse_content_disposition

from bai_bridge.local.files_limits import FileLimits
from bai_bridge.local.files_paths import (
    Located,
    locate,
    open_dir_beneath,
    open_root,
    path_error,
)
from bai_bridge.local.files_threads import in_thread
from bai_bridge.local.problems import InvalidAPIParams

log = logging.getLogger(__name__)

_READ_CHUNK = 256 * 1024
# Written to disk in a worker thread once this much has arrived.
_FLUSH_SIZE = 1 << 20
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_ABSOLUTE_FILENAME = re.compile(r'(?i);\s*filename\s*=\s*"?\s*[/\\]')
_IDENTITY_ENCODINGS = ("", "identity")
_PLAIN_TRANSFER_ENCODINGS = ("", "binary", "8bit", "7bit")


@attrs.define
class _Staged:
    """One part on its way to `name`: a temporary file beside its final place."""

    name: str
    dir_fd: int
    final_name: str
    tmp_name: str
    file_fd: int = -1
    committed: bool = False


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
    staged: list[_Staged] = []
    made_dirs: list[tuple[Path, str]] = []
    try:
        while (part := await _next_part(reader)) is not None:
            if len(staged) >= limits.max_upload_files:
                raise InvalidAPIParams("Too many files")
            filename = _part_filename(part)
            # One thread hop per part for its file system work (locate, directories, the
            # temporary file); `in_thread` finishes even when cancelled, so what it staged
            # is in `staged` (and made_dirs) for the cleanup below.
            await in_thread(_stage_part, filename, work_dir, mounts, staged, made_dirs)
            await _receive_part(part, staged[-1], limits.max_upload_file_size)
        return await in_thread(_commit, staged)
    finally:
        _discard(staged)
        if not all(s.committed for s in staged):
            _remove_dirs(made_dirs)


async def _next_part(reader: aiohttp.MultipartReader) -> aiohttp.BodyPartReader | None:
    try:
        part = await reader.next()
    except ValueError as e:  # aiohttp's word for a malformed or cut-off multipart body
        raise InvalidAPIParams(f"Malformed multipart body: {e}") from e
    if part is None or isinstance(part, aiohttp.BodyPartReader):
        return part
    raise InvalidAPIParams("Nested multipart bodies are not accepted.")


def _part_filename(part: aiohttp.BodyPartReader) -> str:
    """The part's file name with `/` separators; 400 for an encoded part or no file name."""
    _check_encodings(part)
    return _client_filename(part).replace("\\", "/")  # the client's OS separators


def _stage_part(
    filename: str,
    work_dir: Path,
    mounts: Sequence[Path],
    staged: list[_Staged],
    made_dirs: list[tuple[Path, str]],
) -> None:
    """Where the part goes (400 for anything but a file name), staged there (blocking)."""
    located = locate(work_dir, filename, mounts=mounts)
    if not located.parts:
        raise InvalidAPIParams(f"Not a file name: {filename!r}")
    staged.append(_stage((os.path.normpath(filename), located), made_dirs))


def _stage(target: tuple[str, Located], made_dirs: list[tuple[Path, str]]) -> _Staged:
    """Create the part's temporary file (and its missing parent directories; blocking)."""
    name, located = target
    made: list[str] = []
    root_fd = open_root(located.root)
    try:
        dir_fd = open_dir_beneath(root_fd, located.parts[:-1], create=made)
    except OSError as e:
        raise path_error(name, e) from e
    finally:
        os.close(root_fd)
        made_dirs.extend((located.root, rel) for rel in made)
    staged = _Staged(name, dir_fd, located.parts[-1], f".bai-upload-{secrets.token_hex(8)}")
    try:
        _refuse_directory(dir_fd, staged.final_name, name)
        staged.file_fd = os.open(staged.tmp_name, _FILE_FLAGS, 0o666, dir_fd=dir_fd)
    except BaseException:
        os.close(dir_fd)
        raise
    return staged


def _client_filename(part: aiohttp.BodyPartReader) -> str:
    """The part's file name as the client meant it.

    aiohttp's client (the official Backend.AI client's transport) percent-encodes a plain
    ``filename=`` (``sub/a.txt`` arrives as ``sub%2Fa.txt``) and its server does not decode
    it; ``filename*=`` arrives decoded already.
    """
    header = part.headers.get(aiohttp.hdrs.CONTENT_DISPOSITION, "")
    _, params = parse_content_disposition(header)
    filename = content_disposition_filename(params, "filename")  # part.filename, parsed once
    if not filename:
        raise InvalidAPIParams(f"The form field {part.name!r} has no file name.")
    if _ABSOLUTE_FILENAME.search(header):  # aiohttp strips the leading slash; we refuse it
        raise InvalidAPIParams(f"Absolute paths are not allowed: {filename!r}")
    if "filename*" in params:
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


def _refuse_directory(dir_fd: int, final_name: str, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        st = os.stat(final_name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            raise InvalidAPIParams(f"Cannot overwrite a directory with a file: {name!r}")


async def _receive_part(part: aiohttp.BodyPartReader, staged: _Staged, max_size: int) -> None:
    """Stream the part's bytes to its temporary file; 'Too large file' at `max_size`."""
    size = 0
    buffer = bytearray()
    while chunk := await _read_chunk(part):
        size += len(chunk)
        if size >= max_size:
            raise InvalidAPIParams("Too large file")
        buffer += chunk
        if len(buffer) >= _FLUSH_SIZE:
            await _write_in_thread(staged.file_fd, bytes(buffer))
            buffer.clear()
    await _write_in_thread(staged.file_fd, bytes(buffer))
    os.close(staged.file_fd)
    staged.file_fd = -1


async def _read_chunk(part: aiohttp.BodyPartReader) -> bytes:
    try:
        return await part.read_chunk(_READ_CHUNK)
    except ValueError as e:
        raise InvalidAPIParams(f"Malformed multipart body: {e}") from e


async def _write_in_thread(fd: int, data: bytes) -> None:
    if data:
        await in_thread(_write_all, fd, data)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _commit(staged: list[_Staged]) -> list[str]:
    """Rename every temporary file into place (each rename atomic)."""
    for s in staged:
        try:
            os.replace(s.tmp_name, s.final_name, src_dir_fd=s.dir_fd, dst_dir_fd=s.dir_fd)
        except OSError as e:
            raise path_error(s.name, e) from e
        s.committed = True
    return [s.name for s in staged]


def _discard(staged: list[_Staged]) -> None:
    """Close descriptors; unlink the temporary files that never made it into place."""
    for s in staged:
        if s.file_fd >= 0:
            os.close(s.file_fd)
        if not s.committed:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(s.tmp_name, dir_fd=s.dir_fd)
        os.close(s.dir_fd)


def _remove_dirs(made_dirs: list[tuple[Path, str]]) -> None:
    """Remove the directories a failed request created, deepest first, if still empty."""
    for root, rel in reversed(made_dirs):
        *parents, name = rel.split("/")
        try:
            root_fd = open_root(root)
        except OSError:
            continue
        try:
            parent_fd = open_dir_beneath(root_fd, tuple(parents))
        except OSError:
            continue
        finally:
            os.close(root_fd)
        try:
            os.rmdir(name, dir_fd=parent_fd)
        except OSError as e:
            log.debug("leaving %s in place: %s", rel, e)
        finally:
            os.close(parent_fd)
