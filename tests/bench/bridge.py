"""The real bridge path: LSP client over stdio -> `bai-bridge lsp` -> embedded server -> kernel."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from bai_bridge.lsp import protocol
from bench.config import BenchConfig
from bench.lsp_client import BenchClient, bridge_argv, field, lsp_server

log = logging.getLogger(__name__)
T = TypeVar("T")
READY_TIMEOUT = 60.0
READY_RETRY = 0.2
END_GRACE = 30.0  # how long the end notification may trail the command's answer


def unavailable() -> str | None:
    """Why the bridge path cannot be measured in this tree, or None when it can."""
    for module in ("bai_bridge.launch", "bai_bridge.lsp.server", "bai_bridge.local.app"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not in the tree yet"
    return None


async def attempt(
    measure: Callable[[BenchConfig], Awaitable[T]], cfg: BenchConfig
) -> tuple[T | None, str | None]:
    """Run a bridge measurement: (its result, None), or (None, why it could not be had).

    A failing bridge path must not take the row's baselines down with it.
    """
    reason = unavailable()
    if reason:
        return None, reason
    try:
        return await measure(cfg), None
    except Exception as error:
        log.exception("the bridge path failed")
        return None, f"the bridge path failed: {error!r}"[:300]


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without a cluster endpoint: the embedded server is used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env.update(extra)
    return env


@asynccontextmanager
async def bridge(
    cfg: BenchConfig, name: str, *, workspace: Path | None = None,
    env: dict[str, str] | None = None, options: dict[str, Any] | None = None,
) -> AsyncIterator[tuple[BenchClient, Path]]:  # fmt: skip
    """A `bai-bridge lsp` on ``workspace`` (default: a fresh directory ``name``), its session
    started; yields (client, workspace). ``options`` are the server's initializationOptions."""
    workspace = workspace or cfg.work_dir / name
    workspace.mkdir(parents=True, exist_ok=True)
    log_file = cfg.work_dir / f"{name}.lsp.log"
    async with lsp_server(
        bridge_argv(), workspace=workspace, log_file=log_file, env=env or clean_env(),
        init_options={"baiBridge": options or {}},
    ) as client:  # fmt: skip
        await first_run(client, cfg.work_dir / f"{name}-ready.py")
        client.messages.clear()  # start-up retries are not errors of the measured work
        yield client, workspace


async def first_run(client: BenchClient, path: Path, retry: float = READY_RETRY) -> None:
    """Run `0` once, so the session exists and is warm before anything is timed.

    The server finishes its own start-up after `initialized` and says "not initialized yet"
    until then (an editor's first command would meet the same): retried every ``retry`` s.
    """
    await asyncio.to_thread(path.write_text, "0\n")  # outside the workspace: never synced
    uri = client.open(path)
    deadline = time.perf_counter() + READY_TIMEOUT
    while True:
        try:
            await run_selection(client, uri, 0, 1)
            return
        except RuntimeError as error:
            if "not initialized" not in str(error) or time.perf_counter() > deadline:
                raise
        await asyncio.sleep(retry)


def whole_range(first_line: int, end_line: int) -> dict[str, Any]:
    return {
        "start": {"line": first_line, "character": 0},
        "end": {"line": end_line, "character": 0},
    }


async def run_selection(
    client: BenchClient, uri: str, first_line: int, end_line: int
) -> tuple[float, Any]:
    """Run lines [first_line, end_line) through the run command; seconds until the run's end
    notification and the command's answer have both reached the client."""
    args = {"uri": uri, "range": whole_range(first_line, end_line)}
    return await run_command(client, protocol.RUN_SELECTION, args)


async def run_command(client: BenchClient, command: str, args: dict[str, Any]) -> tuple[float, Any]:
    """Any run command (selection, cell, file); seconds until the run's end notification and
    the command's answer have both reached the client."""
    since = len(client.outputs)
    started = time.perf_counter()
    result = await client.command(command, args)
    answered = time.perf_counter()
    if result is None:
        raise RuntimeError(f"the run command answered nothing; server said {client.messages[-3:]}")
    ended, _ = await client.wait_output(
        lambda p: field(p, "event") == "end", END_GRACE, since=since
    )
    if field(result, "status") not in (None, "finished"):
        raise RuntimeError(f"run did not finish: {result!r}")
    return max(answered, ended) - started, result


def output_text(client: BenchClient, since: int = 0) -> str:
    """Concatenated stdout of the output notifications from index ``since``."""
    parts = []
    for _, params in client.outputs[since:]:
        for item in field(params, "items") or []:
            if field(item, "kind") in ("stdout", "media", "html", "stderr"):
                parts.append(field(item, "data") or "")
    return "".join(parts)
