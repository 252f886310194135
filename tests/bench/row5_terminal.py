"""Row 5: keystroke echo and bulk output over the bridge's PTY WebSocket, next to the same
shell on a local pseudo-terminal."""

from __future__ import annotations

import time

from bai_bridge.lsp import protocol
from bench import bridge
from bench.config import BenchConfig
from bench.lsp_client import field
from bench.stats import Figure, Summary, ratio, skipped
from bench.terminals import LocalPty, WebSocketPty

ROW = "5"
PROMPT = b"BENCH> "
SET_PROMPT = b"export PS1='BEN''CH> '\r"  # the echoed command never shows the marker itself
LINE_LENGTH = 40
WARMUP = 10
BULK_TRIALS = 3
GOAL_ECHO = "p50 ≤ 2 ms"
GOAL_BULK = "≥ 50% of local (ratio ≥ 0.5)"


async def prepare(term: LocalPty | WebSocketPty) -> None:
    await term.send(SET_PROMPT)
    await term.buffer.wait_for(PROMPT, 0)


async def echo(term: LocalPty | WebSocketPty, trials: int) -> Summary:
    """Type one character at a time and time its echo, on comment lines (`#xxx…` and Enter:
    the shell runs nothing and prompts again, a marker that does not depend on signals)."""
    samples = []
    for i in range(WARMUP + trials):
        if i % LINE_LENGTH == 0:
            if i:
                await enter(term)
            await keystroke(term, b"#")
        elapsed = await keystroke(term, b"x")
        if i >= WARMUP:
            samples.append(elapsed * 1000)
    await enter(term)
    return Summary.of(samples)


async def keystroke(term: LocalPty | WebSocketPty, key: bytes) -> float:
    mark = len(term.buffer.data)
    started = time.perf_counter()
    await term.send(key)
    await term.buffer.wait_for(key, mark)
    return time.perf_counter() - started


async def enter(term: LocalPty | WebSocketPty) -> None:
    mark = len(term.buffer.data)
    await term.send(b"\r")
    await term.buffer.wait_for(PROMPT, mark)


async def bulk(term: LocalPty | WebSocketPty, size: int) -> Summary:
    """MB/s of terminal output, from the command's Enter to the end marker."""
    command = f"head -c {size} /dev/zero | base64 -w 100; echo BULK''DONE\r".encode()
    samples = []
    for _ in range(BULK_TRIALS):
        mark = len(term.buffer.data)
        started = time.perf_counter()
        await term.send(command)
        end = await term.buffer.wait_for(b"BULKDONE", mark)
        samples.append((end - mark) / (time.perf_counter() - started) / 1e6)
        await term.buffer.wait_for(PROMPT, end)
        del term.buffer.data[: len(term.buffer.data) - 64]  # keep memory flat
    return Summary.of(samples)


async def measure(term: LocalPty | WebSocketPty, cfg: BenchConfig) -> tuple[Summary, Summary]:
    try:
        await prepare(term)
        return await echo(term, cfg.trials), await bulk(term, cfg.bulk_bytes)
    finally:
        await term.close()


async def through_bridge(cfg: BenchConfig) -> tuple[Summary, Summary]:
    async with bridge.bridge(cfg, "row5") as (client, workspace):
        path = workspace / "one.py"
        path.write_text("1\n")
        await bridge.run_selection(client, client.open(path), 0, 1)  # the session exists
        descriptor = await client.command(protocol.TERMINAL_DESCRIPTOR)
        term = await WebSocketPty.connect(field(descriptor, "url"), field(descriptor, "headers"))
        return await measure(term, cfg)


async def run(cfg: BenchConfig) -> list[Figure]:
    local_echo, local_bulk = await measure(LocalPty(), cfg)
    measured, reason = await bridge.attempt(through_bridge, cfg)
    if reason:
        echo_fig = skipped(ROW, "keystroke echo", "ms", reason, goal=GOAL_ECHO)
        echo_fig.baseline, echo_fig.baseline_name = local_echo, "local pty"
        bulk_fig = skipped(ROW, "bulk output", "MB/s", reason, goal=GOAL_BULK)
        bulk_fig.baseline, bulk_fig.baseline_name = local_bulk, "local pty"
        return [echo_fig, bulk_fig]
    assert measured is not None
    my_echo, my_bulk = measured
    bulk_ratio = ratio(my_bulk, local_bulk)
    return [
        Figure(ROW, "keystroke echo", "ms", my_echo, local_echo, "local pty",
               ratio(my_echo, local_echo), GOAL_ECHO, my_echo.median <= 2),
        Figure(ROW, "bulk output", "MB/s", my_bulk, local_bulk, "local pty", bulk_ratio,
               GOAL_BULK, bulk_ratio is not None and bulk_ratio >= 0.5,
               headline=True, goal_speed=0.5),
    ]  # fmt: skip
