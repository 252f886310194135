"""Sizes and modification times of the files in one session folder (§3.11), lean.

Sync compares thousands of files by size and mtime; building a `FileEntry` model per file
(what `Kernel.list_files` returns) cost more than the request itself, so this reads the
answer's plain JSON.

A listing fails closed: the agent answers 200 with an ``errors`` text when it cannot list
(the folder is missing, unreadable, or an entry broke the listing half way), so only the one
error that means "this folder does not exist" reads as an empty folder. Anything else raises
`ListingError`: a folder that could not be listed must never look like one free to write in.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .errors import BackendAPIError, BackendNotFoundError, TransferError

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["ListingError", "file_stats"]


class ListingError(TransferError):
    """The session could not list a folder (or listed only part of it)."""


async def file_stats(kernel: Kernel, folder: str) -> dict[str, tuple[int, float]]:
    """``{name: (size, mtime)}`` of the files (not folders) directly in ``folder``; empty
    when the folder does not exist in the session.

    Raises `ListingError` when the listing failed or came with errors, and
    `BackendNotFoundError` when the session itself is gone (a missing folder is no 404).
    """
    path = kernel.work_path(folder)  # as the agent's error would name it
    try:
        raw: Any = await kernel.session.fetch_json(
            "GET",
            kernel.request_path("/files"),
            query=kernel.request_query(),
            json_body={"path": path},
        )
    except BackendNotFoundError:
        raise  # the session is gone: its caller may re-create it
    except BackendAPIError as e:  # e.g. a 500 from the agent: nothing is known of the folder
        raise ListingError(f"the session could not list {folder!r}: {e}") from e
    errors = raw.get("errors") if isinstance(raw, dict) else None
    files = raw.get("files") if isinstance(raw, dict) else None
    if isinstance(files, str):  # a JSON-encoded string inside the JSON answer
        files = json.loads(files) if files.strip() else []
    if errors:
        if not files and _missing(str(errors), path):
            return {}
        raise ListingError(f"the session could not list {folder!r}: {str(errors).strip()}")
    return {
        entry["filename"]: (int(entry.get("size", 0)), float(entry.get("mtime", 0.0)))
        for entry in files or ()
        if isinstance(entry, dict)
        and "filename" in entry
        and not str(entry.get("mode", "")).startswith("d")
    }


def _missing(errors: str, folder: str) -> bool:
    """Whether the agent's error text says the folder itself does not exist. Both agents end
    it with Python's words for the path they were given (the real one a traceback's last
    line, ``FileNotFoundError: [Errno 2] No such file or directory: 'pkg'``); a missing
    entry *inside* the folder (a broken symlink the agent stat'ed) names a longer path."""
    last = errors.strip().splitlines()[-1] if errors.strip() else ""
    return last.startswith("FileNotFoundError") and last.endswith(
        f"No such file or directory: {folder!r}"
    )
