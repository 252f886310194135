"""Run File: upload the file, then run it in the session's namespace (the default: its names
stay, its plots and output show as a cell's do), or as a batch job in a process of its own
(Run File as Job: the namespace is not touched)."""

from __future__ import annotations

import asyncio
import functools
import shlex
from collections.abc import AsyncIterator
from importlib import resources

from pygls.uris import to_fs_path

from bai_bridge.api import BatchOptions, ExecutionResult, Kernel

from . import protocol
from .commands import command
from .documents import NotReadable, read_regular_bytes
from .execution import guarded
from .runs import RunHooks, RunSpec
from .server import BridgeServer
from .sync import file_folder
from .sync_service import SyncService

__all__ = ["in_session_code", "register"]

# Source bytes sent with the run, so the kernel need not read its copy back; a larger file
# (rare for Python) is read by the kernel from the copy just uploaded, keeping the execute
# message far under what a manager takes (aiohttp's default WebSocket message cap: 4 MiB).
INLINE_LIMIT = 256 * 1024


def register(server: BridgeServer) -> None:
    @command(server, protocol.RUN_FILE, protocol.RunFileArgs)
    async def run_file(ls: BridgeServer, args: protocol.RunFileArgs) -> protocol.RunResult | None:
        return await _run_file(ls, args.uri, as_job=False)

    @command(server, protocol.RUN_FILE_AS_JOB, protocol.RunFileArgs)
    async def run_file_as_job(
        ls: BridgeServer, args: protocol.RunFileArgs
    ) -> protocol.RunResult | None:
        return await _run_file(ls, args.uri, as_job=True)


@functools.cache
def _kernel_helper() -> str:
    return resources.files(__package__).joinpath("run_file_in_kernel.py").read_text()


def in_session_code(rel: str, source: bytes) -> str:
    """Query code running the file ``rel`` (its ``source`` as uploaded) in the session's
    namespace through `run_file_in_kernel`, defining no name of its own there: one statement
    whose value is None, so ``_`` and ``Out`` stay as they were."""
    inline: str | bytes | None = None
    if len(source) <= INLINE_LIMIT:
        try:
            inline = source.decode("utf-8-sig")  # a BOM is no part of the code
        except UnicodeDecodeError:
            inline = source  # compile() reads its coding declaration
    return (
        f"exec({_kernel_helper()!r}, {{'__name__': '__bai_bridge_run_file__', "
        f"'REL': {rel!r}, 'SOURCE': {inline!r}, 'USER_NS': globals()}})\n"
    )


async def _run_file(ls: BridgeServer, uri: str, *, as_job: bool) -> protocol.RunResult | None:
    if await ls.started_services() is None:
        return None
    found, path = file_folder(ls, uri), to_fs_path(uri)
    if found is None or path is None:
        ls.tell("bai-bridge: only files inside a workspace folder can run remotely.")
        return None
    folder, rel = found
    remote = folder.remote(rel)  # its path in the session, relative to the work dir
    try:  # what the upload sends: the file as saved
        source = await asyncio.to_thread(read_regular_bytes, path, ls.options.max_file_size)
    except NotReadable as e:
        ls.tell(f"bai-bridge: {e}.")
        return None
    # An inline run (in the namespace, source sent with it) does not read the session's
    # copy: its upload goes first and the run right beside it, one round trip saved. A job
    # or a larger file runs the copy, so it waits for its upload: never a stale copy.
    inline = not as_job and len(source) <= INLINE_LIMIT
    upload = asyncio.create_task(_upload(ls, folder.service, rel, ran=inline))
    if not inline and not await upload:
        return None

    def in_session(kernel: Kernel, hooks: RunHooks) -> AsyncIterator[ExecutionResult]:
        # Over the execute WebSocket, as a cell: output every 0.2 s, not every 2 s.
        code = in_session_code(remote, source)
        return kernel.run(code, on_input=hooks.on_input, on_drop=hooks.on_drop, stream=True)

    def job(kernel: Kernel, hooks: RunHooks) -> AsyncIterator[ExecutionResult]:
        # `--`: a file named `-x.py` is a file, not an option of Python's. A job runs in its
        # workspace folder's place, as `python file` from the folder's root would.
        into = f"cd -- {shlex.quote(folder.place)} && " if folder.place else ""
        opts = BatchOptions(exec=f"{into}python -- {shlex.quote(rel)}")
        return kernel.run(
            "", mode="batch", opts=opts, on_input=hooks.on_input, on_drop=hooks.on_drop,
            stream=True,
        )  # fmt: skip

    lines = source.count(b"\n") + 1
    label = f"{remote} (job)" if as_job else remote
    start = job if as_job else in_session
    ran = rel if as_job else remote  # as its traceback names it
    try:
        return await guarded(ls, RunSpec(uri, label, start, 0, lines, remote_path=ran, file=remote))
    finally:
        await upload  # told already if it failed


async def _upload(ls: BridgeServer, service: SyncService, rel: str, *, ran: bool) -> bool:
    """Upload the file whatever the session holds (running it is the person's call); tell
    how it failed, and that the file ran anyway when ``ran`` (its source went with the run)."""
    outcome = f"{rel} ran, but its copy in the session was not updated" if ran else None
    try:
        if rel in await service.upload_files([rel], force=True):  # record follows
            return True
    except Exception as e:
        ls.fail(f"uploading {rel} ({outcome or 'so it was not run'})", e)
        return False
    # failed, over the size cap, or gone: the session's copy is stale
    why = "its upload to the session did not succeed"
    ls.tell(
        f"bai-bridge: {outcome}: {why}." if outcome else f"bai-bridge: {rel} was not run: {why}."
    )
    return False
