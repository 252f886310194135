"""The real bridge path: LSP client over stdio -> `bai-bridge lsp` -> embedded server -> kernel."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bai_bridge.lsp import protocol
from bench.config import BenchConfig
from bench.lsp_client import BenchClient, bridge_argv, field, lsp_server

RUN_TIMEOUT = 600.0
END_GRACE = 30.0  # how long the end notification may trail the command's answer


def unavailable() -> str | None:
    """Why the bridge path cannot be measured in this tree, or None when it can."""
    for module in ("bai_bridge.launch", "bai_bridge.lsp.server", "bai_bridge.local.app"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not in the tree yet"
    return None


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without a cluster endpoint: the embedded server is used."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKEND_")}
    env.update(extra)
    return env


@asynccontextmanager
async def bridge(
    cfg: BenchConfig, name: str, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[BenchClient, Path]]:
    """A `bai-bridge lsp` on a fresh workspace directory ``name``; yields (client, workspace)."""
    workspace = cfg.work_dir / name
    workspace.mkdir(parents=True, exist_ok=True)
    log_file = cfg.work_dir / f"{name}.lsp.log"
    async with lsp_server(
        bridge_argv(), workspace=workspace, log_file=log_file, env=env or clean_env()
    ) as client:
        yield client, workspace


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
    since = len(client.outputs)
    started = time.perf_counter()
    result = await client.command(
        protocol.RUN_SELECTION, {"uri": uri, "range": whole_range(first_line, end_line)}
    )
    answered = time.perf_counter()
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
