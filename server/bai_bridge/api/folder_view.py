"""The session seen from a folder of its work dir: the same kernel, with relative paths (files
sent, fetched, listed) and batch commands starting in ``folder`` instead of the work dir.

A multi-root workspace syncs each folder into its own folder of the session; its sync works
with paths relative to that folder, as a one-folder workspace's does with the work dir, and
never needs to know where it is. Everything else (ids, the connection, query runs) is the
whole kernel's: a view keeps no state of its own that matters, whatever it changes is the
kernel's through its calls.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .kernel import Kernel
from .models import (
    BatchOptions,
    DownloadResult,
    ExecutionResult,
    UploadResult,
    batch_options_payload,
)
from .opening import Opening
from .stream_execute import ExecuteStream
from .transfer import ProgressCallback

if TYPE_CHECKING:
    from .upload import StagedFile

__all__ = ["FolderView", "in_folder"]

_STEPS = ("clean", "build", "exec")


def in_folder(kernel: Kernel, folder: str) -> Kernel:
    """``kernel`` itself for the work dir (""), else its view from ``folder``."""
    return FolderView(kernel, folder) if folder else kernel


class FolderView(Kernel):
    def __init__(self, whole: Kernel, folder: str) -> None:
        # No Kernel.__init__: what the view does not override is the whole kernel's.
        self.whole = whole
        self.folder = folder

    def __getattr__(self, name: str) -> Any:
        return getattr(self.whole, name)

    def __repr__(self) -> str:
        return f"<{self.whole!r} in {self.folder}>"

    def work_path(self, path: str | Path) -> str:
        return posixpath.normpath(posixpath.join(self.folder, str(path)))

    async def upload(
        self,
        files: Sequence[str | Path],
        basedir: str | Path | None = None,
        show_progress: bool = False,
        *,
        progress: ProgressCallback | None = None,
    ) -> UploadResult:
        from .upload import upload

        # the whole kernel joins a large file's chunks: their names include the folder
        return await upload(
            self.whole, files, basedir, show_progress=show_progress, progress=progress,
            into=self.folder,
        )  # fmt: skip

    async def stage_large(
        self, file: str | Path, basedir: str | Path | None = None, *, sha256: str | None = None
    ) -> StagedFile:
        from .upload import stage_large

        return await stage_large(self.whole, file, basedir, into=self.folder, sha256=sha256)

    async def download(
        self,
        files: Sequence[str | Path],
        dest: str | Path = ".",
        show_progress: bool = False,
        *,
        progress: ProgressCallback | None = None,
    ) -> DownloadResult:
        paths = [self.work_path(f) for f in files]
        return await self.whole.download(
            paths, dest, show_progress=show_progress, progress=progress
        )

    async def execute(
        self,
        run_id: str | None = None,
        code: str | None = None,
        mode: str = "query",
        opts: BatchOptions | Mapping[str, Any] | None = None,
    ) -> ExecutionResult:
        return await self.whole.execute(run_id, code, mode, self._batch_here(mode, opts))

    def stream_execute(
        self,
        code: str = "",
        *,
        mode: str = "query",
        opts: BatchOptions | Mapping[str, Any] | None = None,
        connect_timeout: float | None = None,
    ) -> Opening[ExecuteStream]:
        return self.whole.stream_execute(
            code, mode=mode, opts=self._batch_here(mode, opts), connect_timeout=connect_timeout
        )

    def _batch_here(
        self, mode: str, opts: BatchOptions | Mapping[str, Any] | None
    ) -> BatchOptions | Mapping[str, Any] | None:
        """A batch run's steps run in the folder (created by then: sync lists it first)."""
        if mode != "batch":
            return opts
        payload = batch_options_payload(opts)
        cd = f"cd -- {shlex.quote(self.folder)} && "
        for step in _STEPS:
            if payload.get(step):
                payload[step] = f"{cd}{{\n{payload[step]}\n}}"
        return payload
