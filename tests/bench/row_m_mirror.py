"""Row m: the namespace mirror against `local-server --profile cluster` (complete() answers
nothing, queries wait behind a running cell) through the WAN emulator at 25 ms each way.

Completion and hover of runtime names, idle and while a cell runs; the snapshot after a run
that (re)defines a 1,000-name namespace with a 1e6-row DataFrame, timed and its bytes counted on
the wire; and what the snapshot adds to back-to-back runs of `1+1` at loopback, a bridge with
the mirror beside one without (`namespaceMirror: false`) on the same server. Peers, on a local
ipykernel holding the same namespace: its default completer and its inspect_request (what
Jupyter's hover asks); and jedi-language-server on the same buffer.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
from jupyter_client.blocking.client import BlockingKernelClient
from lsprotocol import types

from bai_bridge.lsp import protocol
from bench import bridge, kernels
from bench.config import BenchConfig
from bench.interleave import Probe, interleave
from bench.local_server import RunningServer, local_server
from bench.lsp_client import BenchClient, field, jedi_argv, lsp_server
from bench.stats import Figure, Summary, ratio, skipped
from bench.wan import LOOP_NAME, link_for
from wanproxy import Link, SeenRequest, WanProxy

log = logging.getLogger(__name__)

ROW = "m"
PROFILE = "cluster"
NAME, PREFIX = "runtime_only_name", "runtime_o"
HOVERED = "frame"
FRAME_ROWS = 1_000_000
EACH = 199  # names of each generated kind: 5 × 199 + 5 fixed names = 1,000
WARMUP = 2
SNAPSHOT_WAIT = 30.0
BACK_TO_BACK = 2  # runs of `1+1`, each sent as the one before it ends
DEFAULT, JEDI_LS = "ipykernel default completer", "jedi-language-server"
INSPECT = "ipykernel inspect_request"
WITHOUT = "the same bridge, mirror off"


def namespace_code(trial: int) -> str:
    """1,000 names (numpy, pandas, a 1e6-row DataFrame, a class, ints, strings, lists,
    instances, closures). Generated names and the frame's columns carry ``trial``, so the
    snapshot after each trial's run describes all of them anew (a run's worst case)."""
    return f"""import numpy as np
import pandas as pd
for _old in [n for n in globals() if n.startswith("g_")]:
    del globals()[_old]
globals().pop("_old", None)
frame = pd.DataFrame({{"a{trial}": np.arange({FRAME_ROWS}),
                      "b{trial}": np.random.default_rng({trial}).random({FRAME_ROWS})}})
class Record:
    \"\"\"One row of the benchmark's namespace.\"\"\"
    def __init__(self, i): self.i, self.label = i, f"r{{i}}"
    def total(self, extra: int = 0) -> int: return self.i + extra
def _closure(i):
    def scaled(x: float, scale: float = {trial}.5) -> float:
        \"\"\"x times scale, plus the closure's own number.\"\"\"
        return x * scale + i
    return scaled
for _k in range({EACH}):
    globals()[f"g_num_{trial}_{{_k}}"] = _k * {trial + 1}
    globals()[f"g_text_{trial}_{{_k}}"] = "text " * (_k % 7)
    globals()[f"g_list_{trial}_{{_k}}"] = [_k, {trial}, "x"]
    globals()[f"g_rec_{trial}_{{_k}}"] = Record(_k)
    globals()[f"g_fn_{trial}_{{_k}}"] = _closure(_k)
del _k, _closure
{NAME} = {trial}
"""


def busy_code(seconds: float) -> str:
    return f"import time; time.sleep({seconds})\n"


@attrs.define
class Route:
    """A language server reaching the server through its own proxy, with its buffers."""

    name: str
    proxy: WanProxy
    client: BenchClient
    workspace: Path
    uris: dict[str, str] = attrs.Factory(dict)

    def open(self, key: str, text: str) -> str:
        path = self.workspace / f"mirror_{key}.py"
        path.write_text(text)
        self.uris[key] = self.client.open(path)
        return self.uris[key]


@asynccontextmanager
async def route(
    cfg: BenchConfig, server: RunningServer, name: str, link: Link, *, mirror: bool = True
) -> AsyncIterator[Route]:
    async with WanProxy("127.0.0.1", int(server.endpoint.rsplit(":", 1)[1]), link) as proxy:
        label = f"mirror-{name}"
        env = {**server.env(), "BACKEND_ENDPOINT": proxy.address}
        options = {
            "syncOnStart": False, "sessionName": f"bench-{label}-{proxy.port}",
            "namespaceMirror": mirror,
        }  # fmt: skip
        async with bridge.bridge(cfg, label, env=env, options=options) as (client, workspace):
            here = Route(name, proxy, client, workspace)
            here.open("complete", f"{PREFIX}\n")
            here.open("hover", f"{HOVERED}\n")
            here.open("busy", busy_code(cfg.busy_cell_s))
            here.open("one", "1+1\n")
            yield here


# -- one trial of each action -----------------------------------------------------------------


async def run_namespace(one: Route, trial: int) -> float:
    """Run the trial's namespace as a cell; the time its end notification arrived."""
    uri = one.open(f"ns{trial}", "# %%\n" + namespace_code(trial))
    since = len(one.client.outputs)
    result = await one.client.command(protocol.RUN_CELL, {"uri": uri, "line": 1})
    if field(result, "status") not in (None, "finished"):
        raise RuntimeError(f"the namespace's run did not finish: {result!r}")
    ended, _ = await one.client.wait_output(lambda p: field(p, "event") == "end", 60, since=since)
    return float(ended)


async def variables_with(client: BenchClient, name: str) -> Any:
    """The Variables answer once it lists ``name`` (it waits for a snapshot under way)."""
    deadline = time.perf_counter() + SNAPSHOT_WAIT
    while time.perf_counter() < deadline:
        listed = await client.protocol.send_request_async(protocol.VARIABLES, {})
        if any(field(v, "name") == name for v in field(listed, "variables")):
            return listed
    names = [field(v, "name") for v in field(listed, "variables")]
    raise RuntimeError(
        f"no snapshot listed {name} within {SNAPSHOT_WAIT:g} s: {len(names)} names, "
        f"truncated {field(listed, 'truncated')}, last {names[-3:]}"
    )


@attrs.define
class Snapshot:
    names_ms: list[float] = attrs.Factory(list)  # until the first reply: every name in
    ms: list[float] = attrs.Factory(list)  # until the last: every name described
    server_ms: list[float] = attrs.Factory(list)  # the server's time on the first
    connections: list[float] = attrs.Factory(list)  # new ones during the run and snapshot
    bytes: list[float] = attrs.Factory(list)
    requests: list[float] = attrs.Factory(list)
    entries: int = 0
    truncated: bool = False


def probe_requests(seen: list[SeenRequest]) -> list[SeenRequest]:
    """The snapshot's plain requests (the cell ran over the execute WebSocket)."""
    return [r for r in seen if not r.websocket and r.method == "POST"]


async def snapshot_trial(one: Route, trial: int, found: Snapshot) -> None:
    """From the run's end (its notification) until the snapshot's first and last replies
    reached the language server (the proxy saw them leave the server; they arrive one delay
    later)."""
    mark, opened = len(one.proxy.requests), one.proxy.connections
    ended = await run_namespace(one, trial)
    listed = await variables_with(one.client, f"g_fn_{trial}_{EACH - 1}")
    seen = probe_requests(one.proxy.requests[mark:])
    if not seen or any(r.answer_done_at is None for r in seen):
        raise RuntimeError(f"the proxy saw no answered snapshot request: {seen!r}")
    last = max(r.answer_done_at for r in seen if r.answer_done_at is not None)
    found.ms.append((last + one.proxy.link.one_way_s - ended) * 1000)
    first = seen[0].answer_done_at or last
    found.names_ms.append((first + one.proxy.link.one_way_s - ended) * 1000)
    found.server_ms.append((seen[0].server_s or 0) * 1000)
    found.connections.append(one.proxy.connections - opened)
    found.bytes.append(sum(r.answer_bytes for r in seen) / 1024)
    found.requests.append(len(seen))
    found.entries = len(field(listed, "variables"))
    found.truncated = bool(field(listed, "truncated"))


def completion_probe(one: Route, misses: list[int]) -> Probe:
    async def once() -> float:
        seconds, labels = await one.client.complete(one.uris["complete"], 0, len(PREFIX))
        if NAME not in labels:
            misses.append(1)
        return seconds * 1000

    return once


async def hover(client: BenchClient, uri: str) -> tuple[float, str]:
    started = time.perf_counter()
    result = await client.text_document_hover_async(
        types.HoverParams(types.TextDocumentIdentifier(uri), types.Position(0, 2))
    )
    elapsed = time.perf_counter() - started
    if result is None:
        return elapsed, ""
    contents = result.contents
    return elapsed, contents if isinstance(contents, str) else str(getattr(contents, "value", ""))


def hover_probe(client: BenchClient, uri: str, misses: list[int]) -> Probe:
    async def once() -> float:
        seconds, text = await hover(client, uri)
        if "DataFrame" not in text:
            misses.append(1)
        return seconds * 1000

    return once


def kernel_complete_probe(kernel: BlockingKernelClient, misses: list[int]) -> Probe:
    async def once() -> float:
        seconds, matches = await asyncio.to_thread(kernels.complete, kernel, PREFIX)
        if NAME not in matches:
            misses.append(1)
        return seconds * 1000

    return once


def inspect(kernel: BlockingKernelClient) -> tuple[float, str]:
    started = time.perf_counter()
    msg_id = kernel.inspect(HOVERED, 2)
    while True:
        reply = kernel.get_shell_msg(timeout=kernels.TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    data = reply["content"].get("data") or {}
    return time.perf_counter() - started, str(data.get("text/plain", ""))


def inspect_probe(kernel: BlockingKernelClient, misses: list[int]) -> Probe:
    async def once() -> float:
        seconds, text = await asyncio.to_thread(inspect, kernel)
        if "DataFrame" not in text:
            misses.append(1)
        return seconds * 1000

    return once


async def one_run(one: Route) -> float:
    """A run of `1+1` as a person makes one: after the last run's snapshot is in."""
    await one.client.protocol.send_request_async(protocol.VARIABLES, {})  # waits for it
    seconds, _ = await bridge.run_selection(one.client, one.uris["one"], 0, 1)
    return seconds * 1000


async def back_to_back(one: Route) -> float:
    """BACK_TO_BACK runs of `1+1`, each sent as soon as the one before has ended: the next
    run waits for the snapshot the last one started."""
    total = 0.0
    for _ in range(BACK_TO_BACK):
        seconds, _ = await bridge.run_selection(one.client, one.uris["one"], 0, 1)
        total += seconds
    return total * 1000


# -- the row ----------------------------------------------------------------------------------


def missed(misses: list[int], total: int, what: str) -> str:
    return f"{len(misses)} of {total} answers lacked {what}" if misses else f"found in all {total}"


async def measure(cfg: BenchConfig) -> list[Figure]:
    link = link_for(cfg, capped=False)
    rtt_ms = link.rtt_s * 1000
    trials = cfg.wan_trials
    total = WARMUP + trials
    data_dir = cfg.work_dir / "mirror-server"
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(
            local_server(data_dir, cfg.work_dir / "mirror-server.log", PROFILE)
        )
        wan, loop, off = await asyncio.gather(  # set-up, not measured: all at once
            stack.enter_async_context(route(cfg, server, "wan", link)),
            stack.enter_async_context(route(cfg, server, "loop", Link())),
            stack.enter_async_context(route(cfg, server, "off", Link(), mirror=False)),
        )
        kernel = stack.enter_context(kernels.jupyter_kernel(cfg.work_dir))
        await asyncio.to_thread(kernels.execute, kernel, namespace_code(0))
        jedi_ws = cfg.work_dir / "mirror-jedi"
        jedi_ws.mkdir(exist_ok=True)
        jedi = await stack.enter_async_context(
            lsp_server(jedi_argv(), workspace=jedi_ws, log_file=cfg.work_dir / "mirror-jedi.log")
        )
        jedi_route = Route("jedi", wan.proxy, jedi, jedi_ws)
        jedi_route.open("complete", f"{PREFIX}\n")
        jedi_route.open("hover", f"{HOVERED}\n")
        log.info("row m: server, bridges and peers up")

        # The snapshot after a run: WAN and loopback in turns, each trial a new namespace.
        snaps = {"wan": Snapshot(), "loop": Snapshot()}
        for trial in range(1, WARMUP + trials + 1):
            for one in (loop, wan):
                await snapshot_trial(one, trial, snaps[one.name])
        for found in snaps.values():
            for samples in (found.names_ms, found.ms, found.server_ms, found.bytes):
                del samples[:WARMUP]
            del found.requests[:WARMUP], found.connections[:WARMUP]
        off_ended = await run_namespace(off, 1)  # the same namespace, for the `1+1` figure
        log.info("row m: snapshots measured (%.0f)", off_ended)

        misses: dict[str, list[int]] = {k: [] for k in ("bridge", "kernel", "jedi", "loop")}
        got, _ = await interleave(
            {
                "bridge": completion_probe(wan, misses["bridge"]),
                "loop": completion_probe(loop, misses["loop"]),
                DEFAULT: kernel_complete_probe(kernel, misses["kernel"]),
                JEDI_LS: completion_probe(jedi_route, misses["jedi"]),
            },
            warmup=WARMUP, trials=trials,
        )  # fmt: skip
        hover_misses: dict[str, list[int]] = {k: [] for k in ("bridge", "kernel", "jedi")}
        hovers, _ = await interleave(
            {
                "bridge": hover_probe(wan.client, wan.uris["hover"], hover_misses["bridge"]),
                INSPECT: inspect_probe(kernel, hover_misses["kernel"]),
                JEDI_LS: hover_probe(jedi, jedi_route.uris["hover"], hover_misses["jedi"]),
            },
            warmup=WARMUP, trials=trials,
        )  # fmt: skip
        busy, busy_misses, busy_base = await during_a_cell(cfg, wan, kernel)
        log.info("row m: completion and hover measured")
        singles, _ = await interleave(
            {"with": lambda: one_run(loop), WITHOUT: lambda: one_run(off)},
            warmup=WARMUP, trials=max(trials, 10),
        )  # fmt: skip
        costs, _ = await interleave(
            {"with": lambda: back_to_back(loop), WITHOUT: lambda: back_to_back(off)},
            warmup=WARMUP, trials=max(trials, 10),
        )  # fmt: skip

    figures = [
        *snapshot_figures(snaps["wan"], snaps["loop"], rtt_ms),
        Figure(ROW, "snapshot: bytes on the wire (the probe's answers, HTTP included)", "KiB",
               Summary.of(snaps["wan"].bytes), None, "", None, "≤ 64 KiB",
               Summary.of(snaps["wan"].bytes).median <= 64,
               note=f"both replies; {snaps['wan'].entries} names listed after it, truncated: "
                    f"{snaps['wan'].truncated}; requests per snapshot "
                    f"{statistics.median(snaps['wan'].requests):g}, new connections "
                    f"{statistics.median(snaps['wan'].connections):g} (the run's and the "
                    "snapshot's together)"),
    ]  # fmt: skip
    completion = got["bridge"]
    note = (f"WAN bridge: {missed(misses['bridge'], total, NAME)}, items' detail "
            f"{', '.join(sorted(wan.client.completion_sources)) or 'none'}; "
            f"loopback bridge p50 {got['loop'].median:.2f} ms")  # fmt: skip
    for peer, key in ((DEFAULT, "kernel"), (JEDI_LS, "jedi")):
        figures.append(
            Figure(ROW, f"completion of a runtime name (`{PREFIX}`), idle, WAN", "ms",
                   completion, got[peer], peer, ratio(completion, got[peer]), "p50 ≤ 10 ms",
                   completion.median <= 10 and not misses["bridge"], headline=True,
                   note=f"{note}; {peer}: {missed(misses[key], total, NAME)}")
        )  # fmt: skip
    figures.append(
        Figure(ROW, f"same, during a {cfg.busy_cell_s:g} s cell, WAN", "ms", busy, busy_base,
               "ipykernel complete_request (busy)", ratio(busy, busy_base),
               "p50 ≤ 15 ms, found every time", busy.median <= 15 and not busy_misses,
               headline=True, note=missed(busy_misses, busy.n, NAME))
    )  # fmt: skip
    for peer, key in ((INSPECT, "kernel"), (JEDI_LS, "jedi")):
        figures.append(
            Figure(ROW, f"hover with live type (`{HOVERED}`), WAN", "ms", hovers["bridge"],
                   hovers[peer], peer, ratio(hovers["bridge"], hovers[peer]), "p50 ≤ 30 ms",
                   hovers["bridge"].median <= 30 and not hover_misses["bridge"],
                   note=f"bridge: {missed(hover_misses['bridge'], total, 'DataFrame')}; "
                        f"{peer}: {missed(hover_misses[key], total, 'DataFrame')}")
        )  # fmt: skip
    added = ratio(singles["with"], singles[WITHOUT])
    figures += [
        Figure(ROW, "Run Selection `1+1`, loopback, 1,000 names", "ms", singles["with"],
               singles[WITHOUT], WITHOUT, added, "≤ 1.10 (≤ 10% added)",
               added is not None and added <= 1.10,
               note="each run once the last one's snapshot is in (a Variables request waits "
                    "for it, on both bridges)"),
        Figure(ROW, f"{BACK_TO_BACK} back-to-back runs of `1+1`, loopback, 1,000 names",
               "ms", costs["with"], costs[WITHOUT], WITHOUT,
               ratio(costs["with"], costs[WITHOUT]), "(context)",
               note="each run sent the moment the one before it ends: the second waits in "
                    "the kernel for the snapshot the first started (one query)"),
    ]  # fmt: skip
    return figures


def snapshot_figures(wan: Snapshot, loop: Snapshot, rtt_ms: float) -> list[Figure]:
    names, names_base = Summary.of(wan.names_ms), Summary.of(loop.names_ms)
    whole, whole_base = Summary.of(wan.ms), Summary.of(loop.ms)
    server = statistics.median(wan.server_ms)
    return [
        Figure(ROW, "snapshot after a run of 1,000 names incl. a 1e6-row DataFrame: every "
               "name in (first reply), WAN", "ms", names, names_base, LOOP_NAME,
               ratio(names, names_base), f"≤ 1 RTT + 30 ms ({rtt_ms + 30:g} ms)",
               names.median <= rtt_ms + 30, headline=True, round_trips=names.median / rtt_ms,
               note="from the run's end notification to the first reply's last byte at the "
                    "language server: every name with its kind and type, those described "
                    "within 20 ms of kernel time in full; every name new each trial (names "
                    f"and columns carry the trial); the server's own time on it {server:.0f} "
                    "ms (median)"),
        Figure(ROW, "same, every name described (second reply), WAN", "ms", whole,
               whole_base, LOOP_NAME, ratio(whole, whole_base), "(context)",
               round_trips=whole.median / rtt_ms,
               note="the follow-up snapshot the first one asks for, sent as it arrives"),
    ]  # fmt: skip


async def during_a_cell(
    cfg: BenchConfig, wan: Route, kernel: BlockingKernelClient
) -> tuple[Summary, list[int], Summary]:
    """Completions through the WAN bridge while its session runs a cell; beside them one
    complete_request to a local kernel busy with the same cell (it answers after the cell)."""
    samples: list[float] = []
    misses: list[int] = []
    since = len(wan.client.outputs)
    cell = asyncio.create_task(bridge.run_selection(wan.client, wan.uris["busy"], 0, 1))
    try:
        await wan.client.wait_output(lambda p: field(p, "event") == "start", 30, since=since)
        deadline = time.perf_counter() + cfg.busy_cell_s - 1.0
        while time.perf_counter() < deadline and not cell.done():
            seconds, labels = await wan.client.complete(wan.uris["complete"], 0, len(PREFIX))
            samples.append(seconds * 1000)
            if NAME not in labels:
                misses.append(1)
    finally:
        await cell
    if not samples:
        raise RuntimeError("no completion was made while the cell ran")
    kernel.execute(busy_code(cfg.busy_cell_s))
    elapsed, _ = await asyncio.to_thread(kernels.complete, kernel, PREFIX)
    return Summary.of(samples), misses, Summary.of([elapsed * 1000])


async def run(cfg: BenchConfig) -> list[Figure]:
    reason = bridge.unavailable()
    if reason:
        return [skipped(ROW, "namespace mirror", "ms", reason)]
    return await measure(cfg)
