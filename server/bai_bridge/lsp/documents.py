"""The text a feature acts on: the editor's buffer, or a regular file read off the event loop.

pygls's ``get_text_document(uri).source`` reads a document the editor has not opened from
disk, on the event loop, whole: a FIFO named by a run or a completion blocked the language
server for good, and a device or a huge file stalled it. Here a file is read only when it is
a regular file, in a thread, up to a bound.

The rule for run commands: they act on documents the editor has open, or on regular files
inside the workspace folder (`run_target`); anything else is refused with a message.
"""

from __future__ import annotations

import asyncio
import os
import stat
from urllib.parse import unquote

from pygls.uris import to_fs_path
from pygls.workspace import TextDocument

from .server import BridgeServer
from .sync import relative_path

__all__ = ["NotReadable", "open_document", "read_regular_bytes", "read_regular_file", "run_target"]


class NotReadable(Exception):
    """Why a document's text cannot be had, for the person."""


def open_document(ls: BridgeServer, uri: str) -> TextDocument | None:
    """The document as the editor has it open, or None: never read from disk."""
    document: TextDocument | None = ls.workspace.text_documents.get(unquote(uri))
    return document


async def run_target(ls: BridgeServer, uri: str) -> str:
    """The text a run command runs: the open buffer, else the file if it is a regular file
    inside the workspace folder (at most the sync size cap). Raises `NotReadable`."""
    document = open_document(ls, uri)
    if document is not None:
        return document.source
    if relative_path(ls, uri) is None:
        raise NotReadable(
            "only documents open in the editor or files inside a workspace folder can run"
        )
    path = to_fs_path(uri)
    assert path is not None  # relative_path found it inside the workspace
    return await asyncio.to_thread(read_regular_file, path, ls.options.max_file_size)


def read_regular_file(path: str, limit: int) -> str:
    """A regular file's text (blocking); raises `NotReadable` for anything else (a FIFO, a
    socket, a device, a folder), a missing file, or one over ``limit`` bytes."""
    return read_regular_bytes(path, limit).decode("utf-8", errors="replace")


def read_regular_bytes(path: str, limit: int) -> bytes:
    """`read_regular_file`'s bytes, undecoded."""
    try:
        # O_NONBLOCK: opening a FIFO without a writer would wait for one (POSIX only)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | os.O_CLOEXEC)
    except OSError as e:
        raise NotReadable(f"{path} cannot be read: {e.strerror}") from e
    try:
        info = os.fstat(fd)  # of what was opened, not of what the name points at later
        if not stat.S_ISREG(info.st_mode):
            raise NotReadable(f"{path} is not a regular file")
        if info.st_size > limit:
            raise NotReadable(f"{path} is over {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:  # it grew meanwhile
        raise NotReadable(f"{path} is over {limit} bytes")
    return data
