"""A standalone `bai-bridge local-server` on 127.0.0.1 with a fresh keypair, for peers that
speak the wire protocol themselves (the official client, direct API load)."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import attrs

from bench.bridge import clean_env
from bench.config import VENV_BIN

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
BANNER = "bai-bridge local server: "


@attrs.frozen
class RunningServer:
    endpoint: str
    access_key: str
    secret_key: str
    pid: int

    def env(self) -> dict[str, str]:
        return clean_env(
            BACKEND_ENDPOINT=self.endpoint, BACKEND_ENDPOINT_TYPE="api",
            BACKEND_ACCESS_KEY=self.access_key, BACKEND_SECRET_KEY=self.secret_key,
        )  # fmt: skip


def fresh_keypair() -> tuple[str, str]:
    return "AKIA" + secrets.token_hex(8).upper(), secrets.token_urlsafe(30)[:40]


@asynccontextmanager
async def local_server(
    data_dir: Path, log_file: Path, profile: str | None = None
) -> AsyncIterator[RunningServer]:
    """The server on a free port; ``profile`` is passed as `--profile` only when given."""
    access, secret = fresh_keypair()
    extra = ["--profile", profile] if profile else []
    env = clean_env(BACKEND_ACCESS_KEY=access, BACKEND_SECRET_KEY=secret)
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            str(VENV_BIN / "bai-bridge"), "local-server", "--port", "0",
            "--data-dir", str(data_dir), *extra,
            env=env, stdout=asyncio.subprocess.PIPE, stderr=log, start_new_session=True,
        )  # fmt: skip
    try:
        endpoint = await _endpoint(process)
        yield RunningServer(endpoint, access, secret, process.pid)
    finally:
        await _stop(process)


async def _endpoint(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(START_TIMEOUT):
        while line := (await process.stdout.readline()).decode():
            if line.startswith(BANNER):
                return line[len(BANNER) :].strip()
    raise RuntimeError("the local server exited before printing its endpoint")


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)  # it shuts its kernels down itself
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
