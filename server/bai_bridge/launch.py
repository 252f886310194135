"""`bai-bridge lsp`: the language server, with its backend.

With ``BACKEND_ENDPOINT`` set, the server talks to that manager (keys from ``BACKEND_*``).
Without it, the embedded session server starts in this process on 127.0.0.1, on a free port,
with a fresh keypair that lives only in memory, in the profile ``--profile`` or
``BAI_BRIDGE_PROFILE`` names; the language server reaches it over HTTP exactly as it would a
cluster. Shutting down stops background work and the embedded server's
kernels and terminals.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import stat
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, BinaryIO

from pygls.io_ import StdoutWriter

from bai_bridge.api import APIConfig
from bai_bridge.lsp.early_connection import EarlyConnection
from bai_bridge.lsp.framing import MessageReader, StreamReader, ThreadReader, serve
from bai_bridge.scratch import make_scratch_dir, sweep_in_background

__all__ = ["run_language_server"]

log = logging.getLogger(__name__)
# Seconds a thread holding the interpreter keeps it while the event loop waits for it
# (Python's default is 5 ms). The loop answers the editor and starts requests; a worker
# thread busy with a scan or a hash would otherwise hold every one of those back by up to
# 5 ms each time the loop gives the interpreter up (a sync's first request: several times).
SWITCH_INTERVAL = 0.0005


def run_language_server(tcp: str | None, profile: str | None = None) -> int:
    """Serve LSP on stdio (or on ``tcp`` = "HOST:PORT") until the client leaves; ``profile``
    is the embedded server's (None: from ``BAI_BRIDGE_PROFILE``)."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        return asyncio.run(_main(tcp, profile))
    except KeyboardInterrupt:
        return 130


async def _main(tcp: str | None, profile: str | None) -> int:
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, main.cancel if main else lambda: None)
    # The manager's connection opens while the language server's modules load (in a thread,
    # so that the loop is free to make it): see early_connection.
    early = await EarlyConnection.open_from_env()
    try:
        return await _serve(tcp, profile, early)
    finally:
        if early is not None:
            await early.close()


def _language_server_modules() -> tuple[Any, Any]:
    from bai_bridge.lsp import lifecycle
    from bai_bridge.lsp.server import create_server

    return lifecycle, create_server


async def _serve(tcp: str | None, profile: str | None, early: EarlyConnection | None) -> int:
    # With an early connection, in a thread: the loop makes it meanwhile. Not otherwise: a
    # thread's allocations stay in a malloc arena of its own (about 1.5 MiB more RSS).
    modules = _language_server_modules
    lifecycle, create_server = await asyncio.to_thread(modules) if early else modules()
    # pygls logs every message at INFO: too much, and results may carry signed headers.
    logging.getLogger("pygls").setLevel(max(logging.WARNING, logging.getLogger().level))
    sweep_in_background("download")  # downloads staged by language servers that were killed
    async with _backend(profile) as (api_config, problem):
        server = create_server(api_config)
        server.startup_problem = problem
        server.early_connection = early
        try:
            return await (_serve_tcp(server, tcp) if tcp else _serve_stdio(server))
        except asyncio.CancelledError:
            log.info("stopped by a signal")
            return 0
        finally:
            await lifecycle.stop(server)


@contextlib.asynccontextmanager
async def _backend(profile: str | None) -> AsyncIterator[tuple[APIConfig | None, str | None]]:
    """The API config to use (None: from BACKEND_* at initialization) and any problem."""
    if APIConfig.endpoint_configured():
        if profile is not None:
            log.warning("--profile is for the embedded server; BACKEND_ENDPOINT is set")
        yield None, None
        return
    from bai_bridge.local.config import (
        LocalConfig,
        ServerProfile,
        generate_keypair,
        profile_from_env,
    )
    from bai_bridge.local.serve import start_server

    try:
        chosen = profile_from_env(os.environ) if profile is None else ServerProfile(profile)
    except ValueError as e:
        yield None, f"the embedded session server did not start: {e}"
        return
    keypair = generate_keypair()
    sweep_in_background("embedded")
    with _scratch("embedded") as data_dir:
        config = LocalConfig(
            data_dir=data_dir,
            access_key=keypair.access_key,
            secret_key=keypair.secret_key,
            host="127.0.0.1",
            port=0,
            profile=chosen,
        )
        try:
            running = await start_server(config)
        except Exception as e:
            log.exception("the embedded session server did not start")
            yield None, f"the embedded session server did not start: {e}"
            return
        log.info("embedded session server (%s profile) on %s", chosen, running.endpoint)
        try:
            yield (
                # env={}: BACKEND_* describe a cluster, not this server.
                APIConfig(
                    endpoint=running.endpoint,
                    access_key=keypair.access_key,
                    secret_key=keypair.secret_key,
                    env={},
                ),
                None,
            )
        finally:
            await running.close()


@contextlib.contextmanager
def _scratch(kind: str) -> Iterator[str]:
    directory = make_scratch_dir(kind)
    try:
        yield str(directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def _serve_stdio(server: Any) -> int:
    """LSP on stdin/stdout. fd 1 is pointed at stderr first, so that nothing a child process
    (a kernel, a shell) writes can corrupt the LSP stream."""
    lsp_out: BinaryIO = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    server.protocol.set_writer(StdoutWriter(lsp_out))
    reader = await _stdin_reader(server)
    return await _run(server, reader)


async def _stdin_reader(server: Any) -> MessageReader:
    """A non-blocking reader on a pipe or socket; a thread reader for anything else."""
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return ThreadReader(sys.stdin.buffer, server.thread_pool)
    # The limit is the stream's buffer, not a message's size (bodies are read exactly).
    stream = asyncio.StreamReader(limit=1 << 24)
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(stream), sys.stdin.buffer
    )
    return StreamReader(stream)


async def _run(server: Any, reader: MessageReader) -> int:
    stop = threading.Event()
    server._stop_event = stop
    try:
        await serve(reader, server.protocol, stop)
    except SystemExit as e:  # pygls exits this way on the `exit` notification
        return e.code if isinstance(e.code, int) else 0
    except (BrokenPipeError, asyncio.IncompleteReadError):
        log.info("the client went away")
    return 0


async def _serve_tcp(server: Any, address: str) -> int:
    host, _, port = address.rpartition(":")
    connected: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    listener = await asyncio.start_server(
        lambda r, w: connected.put_nowait((r, w)), host or "127.0.0.1", int(port)
    )
    bound = ", ".join(f"{s.getsockname()[0]}:{s.getsockname()[1]}" for s in listener.sockets)
    log.warning("bai-bridge lsp: waiting for one LSP client on %s", bound)
    try:
        reader, writer = await connected.get()
    finally:
        listener.close()
    server.protocol.set_writer(writer)
    try:
        return await _run(server, StreamReader(reader))
    finally:
        writer.close()
