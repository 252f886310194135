"""What uploads and downloads share: the manager's limits, progress reporting, and shell
commands run in the session (batch mode) to split and join files the limits would refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from .errors import TransferError
from .models import BatchOptions, ExecutionResult

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = [
    "DOWNLOAD_FILE_LIMIT",
    "DOWNLOAD_PATHS_PER_REQUEST",
    "READ_SIZE",
    "UPLOAD_FILES_PER_REQUEST",
    "UPLOAD_FILE_LIMIT",
    "ProgressCallback",
    "batch_output",
    "best_effort",
    "progress_sink",
]

log = logging.getLogger(__name__)

UPLOAD_FILES_PER_REQUEST = 20
UPLOAD_FILE_LIMIT = 1024 * 1024  # the manager refuses files of this size or more
DOWNLOAD_PATHS_PER_REQUEST = 5
DOWNLOAD_FILE_LIMIT = 1024 * 1024  # each path's tar archive must stay under this
READ_SIZE = 256 * 1024

# progress(bytes_done, bytes_total), called from the event loop; total 0 when unknown.
ProgressCallback = Callable[[int, int], None]


@contextmanager
def progress_sink(
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


async def batch_output(
    kernel: Kernel, command: str, what: str, *, stream: bool = False, interrupt: bool = True
) -> str:
    """Run a shell command in the session (batch mode); its stdout, or `TransferError`.

    ``stream``: over the execute WebSocket, where the server continues through a batch run's
    steps by itself (over HTTP each step is a round trip: clean, build, exec); stopping it
    early interrupts the session, so not for a run that may be left queued.
    ``interrupt=False``: leaving early interrupts nothing (the run stays queued behind a cell
    someone else runs, which it must not stop); HTTP only."""
    from .runloop import run_code

    out: list[str] = []
    err: list[str] = []
    last: ExecutionResult | None = None
    opts = BatchOptions(exec=command)
    steps = run_code(kernel, "", mode="batch", opts=opts, stream=stream, interrupt=interrupt)
    async for result in steps:
        out += [getattr(i, "text", "") for i in result.console if i.kind == "stdout"]
        err += [getattr(i, "text", "") for i in result.console if i.kind == "stderr"]
        last = result
    if last is None or last.status != "finished" or last.exit_code != 0:
        detail = "".join(err).strip() or f"exit code {last.exit_code if last else None}"
        raise TransferError(f"{what} failed in the session: {detail}")
    return "".join(out)


async def best_effort(cleanup: Awaitable[object]) -> None:
    try:
        await cleanup
    except Exception as e:
        log.warning("cleanup in the session failed: %s", e)
