"""Sizes and modification times of the files in one session folder (§3.11), lean.

Sync compares thousands of files by size and mtime; building a `FileEntry` model per file
(what `Kernel.list_files` returns) cost more than the request itself, so this reads the
answer's plain JSON.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["file_stats"]


async def file_stats(kernel: Kernel, folder: str) -> dict[str, tuple[int, float]]:
    """``{name: (size, mtime)}`` of the files (not folders) directly in ``folder``.

    Raises `BackendAPIError` like `Kernel.list_files` (e.g. the folder does not exist).
    """
    raw: Any = await kernel.session.fetch_json(
        "GET",
        kernel.request_path("/files"),
        query=kernel.request_query(),
        json_body={"path": folder},
    )
    files = raw.get("files") if isinstance(raw, dict) else None
    if isinstance(files, str):  # a JSON-encoded string inside the JSON answer
        files = json.loads(files) if files.strip() else []
    return {
        entry["filename"]: (int(entry.get("size", 0)), float(entry.get("mtime", 0.0)))
        for entry in files or ()
        if isinstance(entry, dict)
        and "filename" in entry
        and not str(entry.get("mode", "")).startswith("d")
    }
