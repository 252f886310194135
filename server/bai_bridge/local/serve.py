"""Running the embedded server: in-process (for the language server) or standalone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

import attrs
from aiohttp import web
from aiohttp.typedefs import Middleware

from bai_bridge.local.app import create_app
from bai_bridge.local.config import (
    LocalConfig,
    ServerProfile,
    default_data_dir,
    keypair_from_env_or_store,
    profile_from_env,
)
from bai_bridge.local.leftovers import Removed, remove_leftovers
from bai_bridge.scratch import sweep_in_background

log = logging.getLogger(__name__)


@attrs.define
class RunningServer:
    """A started server; ``close()`` stops every kernel and terminal."""

    endpoint: str
    access_key: str
    secret_key: str = attrs.field(repr=False)
    runner: web.AppRunner = attrs.field(repr=False)
    app: web.Application = attrs.field(repr=False)
    # Removing what a killed server left in the data dir, while this one already serves.
    leftovers: asyncio.Task[Removed] | None = attrs.field(default=None, repr=False)

    async def close(self) -> None:
        await self.runner.cleanup()
        if self.leftovers is not None:
            with contextlib.suppress(Exception):  # its failure was logged already
                await self.leftovers


async def start_server(
    config: LocalConfig, *, extra_middlewares: Iterable[Middleware] = ()
) -> RunningServer:
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    sweep_in_background("kernel")  # socket folders of kernels whose server was killed
    app = create_app(config, extra_middlewares=extra_middlewares)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=1.0,
        keepalive_timeout=config.header_timeout,  # also bounds a request head's arrival
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    port = _bound_port(runner, config.port)
    host = f"[{config.host}]" if ":" in config.host else config.host
    endpoint = f"http://{host}:{port}"
    leftovers = asyncio.create_task(_remove_leftovers(config.data_dir))
    return RunningServer(endpoint, config.access_key, config.secret_key, runner, app, leftovers)


async def _remove_leftovers(data_dir: Path) -> Removed:
    try:
        return await asyncio.to_thread(remove_leftovers, data_dir)
    except Exception:
        log.exception("could not remove what an ended server left in %s", data_dir)
        raise


def _bound_port(runner: web.AppRunner, fallback: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return fallback


async def _serve(config: LocalConfig, keypair_source: str) -> int:
    server = await start_server(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"bai-bridge local server: {server.endpoint}", flush=True)
    print(f"access key: {server.access_key} (keypair from {keypair_source})", flush=True)
    print(f"data dir: {config.data_dir}", flush=True)
    print(f"profile: {config.profile}", flush=True)
    try:
        await stop.wait()
    finally:
        log.info("stopping: shutting down every kernel and terminal")
        await server.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


def serve_forever(*, host: str, port: int, data_dir: Path | None, profile: str | None) -> int:
    """`bai-bridge local-server`: serve until SIGINT/SIGTERM. ``profile`` (None: from
    ``BAI_BRIDGE_PROFILE``) says which server to behave as."""
    try:
        chosen = profile_from_env(os.environ) if profile is None else ServerProfile(profile)
    except ValueError as exc:
        print(f"bai-bridge local server: {exc}", file=sys.stderr)
        return 2
    keypair, source = keypair_from_env_or_store()
    config = LocalConfig(
        data_dir=data_dir or default_data_dir(),
        access_key=keypair.access_key,
        secret_key=keypair.secret_key,
        host=host,
        port=port,
        profile=chosen,
    )
    try:
        return asyncio.run(_serve(config, source))
    except OSError as exc:
        print(f"bai-bridge local server: cannot start: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            log.info("interrupted")
        return 130
