"""Row 1: completion of a runtime-defined name, the bridge next to a kernel's own completers
and jedi-language-server on the same buffer; trials taken in turns."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from bench import bridge, kernels
from bench.config import BenchConfig
from bench.interleave import Probe, interleave
from bench.lsp_client import BenchClient, jedi_argv, lsp_server
from bench.stats import Figure, ratio, skipped

ROW = "1"
SETUP = 'import pandas as pd\n\ndf = pd.DataFrame({"alpha": [1, 2], "beta": [3, 4]})\n'
PREFIX = "df.ke"
BUFFER = SETUP + PREFIX + "\n"
LINE, COL = 3, len(PREFIX)
EXPECTED = "keys"
WARMUP = 3
GOAL = "p50 ≤ 15 ms and ≥ 5× faster (ratio ≤ 0.2)"
DEFAULT, PLAIN = "ipykernel default (jedi)", "ipykernel plain runtime"
JEDI_LS, BRIDGE = "jedi-language-server", "bridge"


def _check(matches: list[str]) -> None:
    if not any(m == EXPECTED or m.endswith("." + EXPECTED) for m in matches):
        raise RuntimeError(f"completion lacks {EXPECTED!r}: {matches[:10]}")


def kernel_probe(client: object) -> Probe:
    async def once() -> float:
        elapsed, matches = await asyncio.to_thread(kernels.complete, client, SETUP + PREFIX)  # type: ignore[arg-type]
        _check(matches)
        return elapsed * 1000

    return once


def lsp_probe(client: BenchClient, uri: str, misses: list[int] | None = None) -> Probe:
    """A completion through an LSP server; with ``misses``, an answer without the name is
    counted there (reported next to the figure) instead of stopping the row."""

    async def once() -> float:
        elapsed, labels = await client.complete(uri, LINE, COL)
        if misses is None:
            _check(labels)
        elif EXPECTED not in labels:
            misses.append(1)
        return elapsed * 1000

    return once


def answers_note(client: BenchClient, misses: list[int], total: int) -> str:
    """Where the bridge's items came from, and how many answers lacked the name."""
    sources = ", ".join(sorted(client.completion_sources)) or "none"
    missing = f"; {len(misses)} of {total} answers lacked `{EXPECTED}`" if misses else ""
    return f"items' source: {sources}{missing}"


async def _buffer(client: BenchClient, workspace: Path) -> str:
    path = workspace / "buffer.py"
    await asyncio.to_thread(path.write_text, BUFFER)
    return client.open(path)


async def start_jedi(cfg: BenchConfig, stack: AsyncExitStack) -> Probe:
    workspace = cfg.work_dir / "jedi-ls"
    workspace.mkdir(exist_ok=True)
    client = await stack.enter_async_context(
        lsp_server(jedi_argv(), workspace=workspace, log_file=cfg.work_dir / "jedi-ls.log")
    )
    return lsp_probe(client, await _buffer(client, workspace))


async def start_bridge(cfg: BenchConfig, stack: AsyncExitStack) -> BenchClient | str:
    """The bridge's client with the buffer's first lines run, or why it is not measured."""
    reason = bridge.unavailable()
    if reason:
        return reason
    try:
        client, workspace = await stack.enter_async_context(bridge.bridge(cfg, "row1"))
        uri = await _buffer(client, workspace)
        await bridge.run_selection(client, uri, 0, 3)
        client.bench_uri = uri  # type: ignore[attr-defined]
        return client
    except Exception as error:
        return f"the bridge path failed to start: {error!r}"[:300]


def start_kernel(cfg: BenchConfig, stack: AsyncExitStack, *, plain: bool) -> Probe:
    client = stack.enter_context(kernels.jupyter_kernel(cfg.work_dir))
    kernels.execute(client, SETUP)
    if plain:
        kernels.use_plain_completer(client)
    return kernel_probe(client)


async def run(cfg: BenchConfig) -> list[Figure]:
    async with AsyncExitStack() as stack:
        probes: dict[str, Probe] = {
            DEFAULT: start_kernel(cfg, stack, plain=False),
            PLAIN: start_kernel(cfg, stack, plain=True),
            JEDI_LS: await start_jedi(cfg, stack),
        }
        started = await start_bridge(cfg, stack)
        misses: list[int] = []
        if not isinstance(started, str):
            uri = started.bench_uri  # type: ignore[attr-defined]
            probes[BRIDGE] = lsp_probe(started, uri, misses)
        got, failures = await interleave(
            probes, warmup=WARMUP, trials=cfg.trials, tolerant=frozenset({BRIDGE})
        )
        total = WARMUP + cfg.trials
        note = "" if isinstance(started, str) else answers_note(started, misses, total)
    reason = started if isinstance(started, str) else failures.get(BRIDGE)
    if reason or BRIDGE not in got:
        return [
            skipped(ROW, "completion `df.ke`", "ms", reason or "no sample", goal=GOAL),
            *(Figure(ROW, f"{name} (baseline only)", "ms", baseline=got[name], baseline_name=name)
              for name in (DEFAULT, PLAIN, JEDI_LS)),
        ]  # fmt: skip
    mine = got[BRIDGE]
    fast = mine.median <= 15 and not misses
    figures = []
    for name in (DEFAULT, JEDI_LS):
        r = ratio(mine, got[name])
        figures.append(
            Figure(ROW, "completion `df.ke`", "ms", mine, got[name], name, r, GOAL,
                   fast and r is not None and r <= 0.2,
                   headline=True, goal_speed=5.0,
                   note=note)
        )  # fmt: skip
    figures.append(
        Figure(ROW, "completion `df.ke`", "ms", mine, got[PLAIN], PLAIN, ratio(mine, got[PLAIN]),
               "(context: the bridge's overhead over the kernel)")
    )  # fmt: skip
    return figures
