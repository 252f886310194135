"""Transfer limits of the file endpoints; the defaults are the real manager's (§3.9, §3.10)."""

from __future__ import annotations

import attrs


@attrs.frozen
class FileLimits:
    max_upload_files: int = 20
    # A file must be smaller than this: exactly 1 MiB is already "Too large file".
    max_upload_file_size: int = 1 << 20
    max_download_paths: int = 5
    # A path's tar archive may be at most this large.
    max_download_size: int = 1 << 20
