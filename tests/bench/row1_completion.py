"""Row 1: completion of a runtime-defined name, the bridge next to a kernel's own completers
and jedi-language-server on the same buffer."""

from __future__ import annotations

import asyncio

from bench import bridge, kernels
from bench.config import BenchConfig
from bench.lsp_client import jedi_argv, lsp_server
from bench.stats import Figure, Summary, ratio, skipped

ROW = "1"
SETUP = 'import pandas as pd\n\ndf = pd.DataFrame({"alpha": [1, 2], "beta": [3, 4]})\n'
PREFIX = "df.ke"
BUFFER = SETUP + PREFIX + "\n"
LINE, COL = 3, len(PREFIX)
EXPECTED = "keys"
WARMUP = 3


def _check(matches: list[str]) -> None:
    if not any(m == EXPECTED or m.endswith("." + EXPECTED) for m in matches):
        raise RuntimeError(f"completion lacks {EXPECTED!r}: {matches[:10]}")


def kernel_completers(cfg: BenchConfig) -> tuple[Summary, Summary]:
    """ipykernel's default (jedi) completer, then its plain runtime completer."""
    code = SETUP + PREFIX
    with kernels.jupyter_kernel(cfg.work_dir) as client:
        kernels.execute(client, SETUP)
        default = _trials(lambda: kernels.complete(client, code), cfg.trials)
        kernels.use_plain_completer(client)
        plain = _trials(lambda: kernels.complete(client, code), cfg.trials)
    return default, plain


def _trials(once: object, trials: int) -> Summary:
    samples = []
    for i in range(WARMUP + trials):
        elapsed, matches = once()  # type: ignore[operator]
        _check(matches)
        if i >= WARMUP:
            samples.append(elapsed * 1000)
    return Summary.of(samples)


async def jedi_language_server(cfg: BenchConfig) -> Summary:
    workspace = cfg.work_dir / "jedi-ls"
    workspace.mkdir(exist_ok=True)
    path = workspace / "buffer.py"
    path.write_text(BUFFER)
    async with lsp_server(
        jedi_argv(), workspace=workspace, log_file=cfg.work_dir / "jedi-ls.log"
    ) as client:
        uri = client.open(path)
        return await _lsp_trials(client, uri, cfg.trials)


async def _lsp_trials(client: object, uri: str, trials: int) -> Summary:
    samples = []
    for i in range(WARMUP + trials):
        elapsed, labels = await client.complete(uri, LINE, COL)  # type: ignore[attr-defined]
        _check(labels)
        if i >= WARMUP:
            samples.append(elapsed * 1000)
    return Summary.of(samples)


async def bridge_completion(cfg: BenchConfig) -> tuple[Summary, str]:
    """The figure, and where the items came from (their detail) as a note."""
    async with bridge.bridge(cfg, "row1") as (client, workspace):
        path = workspace / "buffer.py"
        path.write_text(BUFFER)
        uri = client.open(path)
        await bridge.run_selection(client, uri, 0, 3)
        summary = await _lsp_trials(client, uri, cfg.trials)
        return summary, "items' source: " + ", ".join(sorted(client.completion_sources))


async def run(cfg: BenchConfig) -> list[Figure]:
    default, plain = await asyncio.to_thread(kernel_completers, cfg)
    jedi = await jedi_language_server(cfg)
    goal_speed = "p50 ≤ 15 ms and ≥ 5× faster (ratio ≤ 0.2)"
    measured, reason = await bridge.attempt(bridge_completion, cfg)
    if reason:
        return [
            skipped(ROW, "completion vs default completer", "ms", reason, goal=goal_speed),
            Figure(ROW, "default completer (baseline only)", "ms", baseline=default,
                   baseline_name="ipykernel default (jedi)"),
            Figure(ROW, "plain completer (baseline only)", "ms", baseline=plain,
                   baseline_name="ipykernel plain runtime"),
            Figure(ROW, "jedi-language-server (baseline only)", "ms", baseline=jedi,
                   baseline_name="jedi-language-server"),
        ]  # fmt: skip
    assert measured is not None
    mine, sources = measured
    fast = mine.median <= 15
    figures = [
        Figure(ROW, "completion `df.ke`", "ms", mine, default, "ipykernel default (jedi)",
               ratio(mine, default), goal_speed, fast and (ratio(mine, default) or 9) <= 0.2,
               headline=True, note=sources),
        Figure(ROW, "completion `df.ke`", "ms", mine, jedi, "jedi-language-server",
               ratio(mine, jedi), goal_speed, fast and (ratio(mine, jedi) or 9) <= 0.2,
               headline=True),
        Figure(ROW, "completion `df.ke`", "ms", mine, plain, "ipykernel plain runtime",
               ratio(mine, plain), "(overhead of the bridge over the kernel)"),
    ]  # fmt: skip
    return figures
