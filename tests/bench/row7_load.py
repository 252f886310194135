"""Row 7: many sessions, each running a loop, while completions and saves go on.

To keep to 2 cores, most sessions are driven directly through the client API (a loop each),
and a few through their own `bai-bridge lsp` (a loop each, plus completions and saves at a
typing pace); all on one standalone local server. Errors of any kind are counted.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import AsyncExitStack
from pathlib import Path

from lsprotocol import types

from bai_bridge.api import APIConfig, APISession
from bench import bridge
from bench.config import BenchConfig
from bench.local_server import local_server
from bench.lsp_client import BenchClient
from bench.stats import Figure, Summary, skipped

ROW = "7"
IMAGE = "python:3.11-ubuntu22.04"
GOAL_P95 = "no errors; p95 ≤ 50 ms"
CREATE_AT_ONCE = 4  # concurrent session creations: kernel start-up is CPU-bound
COMPLETION_PACE = 0.1  # seconds between completions of one client: a typing pace
SAVE_EVERY = 10  # completions per save


def loop_code(seconds: float, stop_file: Path | None = None) -> str:
    """A light loop for ``seconds``, or until ``stop_file`` exists (the embedded server's
    sessions share this machine's file system)."""
    stop = f"not os.path.exists({str(stop_file)!r})" if stop_file else "True"
    return (
        "counter_value = 0\n"
        "import os, time\n"
        f"t_end = time.time() + {seconds}\n"
        f"while time.time() < t_end and {stop}:\n"
        "    counter_value += sum(range(2000))\n"
        "    time.sleep(0.02)\n"
    )


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.saves = 0


async def api_loops(
    api: APISession, count: int, code: str, tally: Tally, started: asyncio.Event
) -> None:
    """``count`` sessions each running the loop; ``started`` is set once all are created."""
    gate = asyncio.Semaphore(CREATE_AT_ONCE)
    pending = [count]

    def one_started() -> None:
        pending[0] -= 1
        if pending[0] <= 0:
            started.set()

    async def one(i: int) -> None:
        try:
            async with gate:
                try:
                    kernel = await api.Kernel.get_or_create(IMAGE, client_token=f"bench-load-{i}")
                finally:
                    one_started()
            try:
                final = None
                async for result in kernel.run(code):
                    final = result
                if final is None or final.status != "finished":
                    tally.errors.append(f"api session {i}: run ended {final!r}")
            finally:
                await kernel.destroy()
        except Exception as error:
            tally.errors.append(f"api session {i}: {error!r}")

    await asyncio.gather(*(one(i) for i in range(count)))


async def lsp_driver(client: BenchClient, workspace: Path, seconds: float, tally: Tally) -> None:
    code = loop_code(seconds)
    loop_lines = code.count("\n")
    path = workspace / "load.py"
    path.write_text(code + "counter_v\n")
    uri = client.open(path)
    notes = workspace / "notes.txt"
    notes.write_text("0\n")
    notes_uri = client.open(notes)
    running = asyncio.create_task(bridge.run_selection(client, uri, 0, loop_lines))
    deadline = time.perf_counter() + seconds - 1.0
    i = 0
    try:
        while time.perf_counter() < deadline and not running.done():
            elapsed, labels = await client.complete(uri, loop_lines, len("counter_v"))
            if "counter_value" not in labels:
                tally.errors.append(f"completion lacked counter_value: {labels[:5]}")
            tally.latencies.append(elapsed * 1000)
            i += 1
            if i % SAVE_EVERY == 0:
                notes.write_text(f"{i}\n")
                client.text_document_did_save(
                    types.DidSaveTextDocumentParams(
                        text_document=types.TextDocumentIdentifier(uri=notes_uri)
                    )
                )
                tally.saves += 1
            await asyncio.sleep(COMPLETION_PACE)
    finally:
        try:
            await running
        except Exception as error:
            tally.errors.append(f"lsp run: {error!r}")
    tally.errors += [m for m in client.messages if "fail" in m.lower() or "error" in m.lower()]


async def load(cfg: BenchConfig, tally: Tally) -> None:
    async with local_server(cfg.work_dir / "row7-server", cfg.work_dir / "row7-server.log") as s:
        env = s.env()
        async with APISession(APIConfig.from_env(env)) as api, AsyncExitStack() as stack:
            clients = []
            for i in range(cfg.load_lsp_clients):
                clients.append(
                    await stack.enter_async_context(
                        bridge.bridge(cfg, f"row7-{i}", env=env,
                                      options={"sessionName": f"bench-load-lsp-{i}"})
                    )
                )  # fmt: skip
            api_count = cfg.load_sessions - cfg.load_lsp_clients
            # API sessions start first (their creation is not part of the measured load);
            # their loops run until the measured period is over.
            started = asyncio.Event()
            if api_count <= 0:
                started.set()
            stop_file = cfg.work_dir / "row7-stop"
            code = loop_code(10 * cfg.load_seconds + 60, stop_file)
            loops = asyncio.create_task(api_loops(api, api_count, code, tally, started))
            await asyncio.wait(
                [loops, asyncio.create_task(started.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            try:
                await asyncio.gather(
                    *(lsp_driver(c, w, cfg.load_seconds, tally) for c, w in clients)
                )
            finally:
                await asyncio.to_thread(stop_file.touch)
                await loops


async def run(cfg: BenchConfig) -> list[Figure]:
    reason = bridge.unavailable()
    if reason:
        return [skipped(ROW, "completion under load", "ms", reason, goal=GOAL_P95)]
    tally = Tally()
    await load(cfg, tally)
    what = (f"{cfg.load_sessions} sessions ({cfg.load_lsp_clients} via `bai-bridge lsp`), "
            f"{len(tally.latencies)} completions, {tally.saves} saves")  # fmt: skip
    if not tally.latencies:
        return [skipped(ROW, "completion under load", "ms", "no completion answered")]
    latency = Summary.of(tally.latencies)
    return [
        Figure(ROW, f"completion under load: {what}", "ms", latency, goal=GOAL_P95,
               met=not tally.errors and latency.p95 <= 50, headline=False,
               note="; ".join(tally.errors[:5]) + (" …" if len(tally.errors) > 5 else "")),
    ]  # fmt: skip
