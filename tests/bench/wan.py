"""Rows w*: what each action costs over an emulated WAN, in round trips.

A standalone `bai-bridge local-server` (its `--profile` when the run asks for one) is reached
by language servers through the WAN emulator (tests/wanproxy.py): one path with no delay (the
loopback figure of the same run, through the same proxy) and one with the emulated delay (and
the row's bandwidth cap). Each action is timed on both paths in turns; the proxy counts the
HTTP requests and new connections each one took.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import attrs
from lsprotocol import types

from bai_bridge.lsp import protocol
from bai_bridge.lsp.sync_service import SAVE_COALESCE
from bench import bridge
from bench.config import BenchConfig
from bench.interleave import Probe, interleave
from bench.local_server import RunningServer, local_server
from bench.lsp_client import BenchClient, bridge_argv, field, lsp_server
from bench.row4_sync import sync
from bench.stats import Figure, Summary, skipped
from bench.terminals import WebSocketPty
from bench.workspace_data import make_workspace, total_bytes
from wanproxy import Link, SeenRequest, WanProxy

log = logging.getLogger(__name__)

LOOP, WAN = "loopback", "wan"
WARMUP = 2
SESSION_START_RETRY = 0.005  # "not initialized yet" is answered locally: retried at once
SAVE_POLL = 0.001
SAVE_TIMEOUT = 30.0
PROMPT = b"WANBENCH> "
SET_PROMPT = b"export PS1='WANBEN''CH> '\r"
RUNTIME_NAME, RUNTIME_PREFIX = "runtime_only_name", "runtime_o"
CHANGED = "pkg00/mod000.py"
LOOP_NAME = "loopback (same proxy, no delay)"
CREATE_PATHS = ("/session", "/kernel", "/session/create", "/kernel/create")


@attrs.frozen
class Goal:
    text: str
    met: Callable[[float], bool]  # the WAN median in ms -> met


@attrs.define
class Traffic:
    """What the proxy saw during one trial of an action."""

    requests: list[str]
    connections: int
    server_ms: float | None  # the server's own time on its answered plain requests, summed


@attrs.define
class Route:
    """One way to the server: its proxy, a language server through it, its workspace."""

    name: str
    proxy: WanProxy
    client: BenchClient
    workspace: Path
    uris: dict[str, str] = attrs.Factory(dict)
    terminal: WebSocketPty | None = None
    traffic: dict[str, list[Traffic]] = attrs.Factory(dict)

    async def counted(self, key: str, action: Callable[[Route], Awaitable[float]]) -> float:
        """``action`` on this route, its traffic recorded under ``key``."""
        requests, before = len(self.proxy.requests), self.proxy.connections
        value = await action(self)
        self.traffic.setdefault(key, []).append(_since(self.proxy, requests, before))
        return value


def _since(proxy: WanProxy, requests: int, connections: int) -> Traffic:
    """What the proxy saw since it had seen ``requests`` requests and ``connections``."""
    seen = proxy.requests[requests:]
    timed = [r.server_s for r in seen if not r.websocket and r.server_s is not None]
    server = sum(timed) * 1000 if timed else None
    names = [_short(r.method, r.target, r.websocket) for r in seen]
    return Traffic(names, proxy.connections - connections, server)


def _short(method: str, target: str, websocket: bool) -> str:
    """`POST /session/{name}/...`: names and ids folded, the query left out."""
    parts = [
        "{id}" if re.fullmatch(r"bench-[\w.-]+|[0-9a-f-]{16,}", part) else part
        for part in target.split("?", 1)[0].split("/")
    ]
    return f"{method} {'/'.join(parts)}" + (" (WebSocket)" if websocket else "")


def traffic_note(traffic: list[Traffic]) -> tuple[str, str]:
    """'n req, m new conn' (medians over the trials), and the last trial's requests."""
    requests = statistics.median(len(t.requests) for t in traffic)
    connections = statistics.median(t.connections for t in traffic)
    listed: dict[str, int] = {}
    for request in traffic[-1].requests:
        listed[request] = listed.get(request, 0) + 1
    names = ", ".join(f"{r} ×{n}" if n > 1 else r for r, n in listed.items()) or "none"
    timed = [t.server_ms for t in traffic if t.server_ms is not None]
    if timed:  # requests in flight together overlap: their sum can exceed the wall time
        names += f"; the server's own time on them {statistics.median(timed):.1f} ms (summed)"
    return f"{requests:g} req, {connections:g} new conn", names


def _env(server: RunningServer, proxy: WanProxy) -> dict[str, str]:
    return {**server.env(), "BACKEND_ENDPOINT": proxy.address}


@asynccontextmanager
async def route_through(
    cfg: BenchConfig, server: RunningServer, row: str, name: str, link: Link
) -> AsyncIterator[Route]:
    """A proxy with ``link`` and a warm language server through it on a fresh workspace."""
    async with WanProxy("127.0.0.1", _port(server), link) as proxy:
        label = f"wan-{row}-{name}"
        workspace = cfg.work_dir / f"{label}-ws"
        await asyncio.to_thread(make_workspace, workspace, cfg.wan_files, cfg.wan_big_mib)
        options = {"syncOnStart": False, "sessionName": f"bench-{label}-{proxy.port}"}
        async with bridge.bridge(
            cfg, label, workspace=workspace, env=_env(server, proxy), options=options
        ) as (client, _):
            yield await _warm(Route(name, proxy, client, workspace))


async def _warm(route: Route) -> Route:
    await prepare_buffers(route)
    await sync(route.client)  # the later syncs see one changed file, not a first sync
    return route


def _port(server: RunningServer) -> int:
    return int(server.endpoint.rsplit(":", 1)[1])


async def _write(path: Path, text: str) -> None:
    await asyncio.to_thread(path.write_text, text)


async def prepare_buffers(route: Route) -> None:
    files = {
        "selection": "1+1\n",
        "cell": "# %%\n1+1\n",
        "file": "print(1)\n",
        "define": f"{RUNTIME_NAME} = 1\n",
        "complete": f"{RUNTIME_PREFIX}\n",
        "saved": "0\n",
    }
    for key, text in files.items():
        file = route.workspace / f"wan_{key}.py"
        await _write(file, text)
        route.uris[key] = route.client.open(file)
    await bridge.run_selection(route.client, route.uris["define"], 0, 1)


def _expect(client: BenchClient, since: int, text: str) -> None:
    if text not in bridge.output_text(client, since):
        raise RuntimeError(f"the run's output lacks {text!r}")


# -- the actions ------------------------------------------------------------------------------


async def run_selection(route: Route) -> float:
    since = len(route.client.outputs)
    seconds, _ = await bridge.run_selection(route.client, route.uris["selection"], 0, 1)
    _expect(route.client, since, "2")
    return seconds * 1000


async def run_cell(route: Route) -> float:
    since = len(route.client.outputs)
    args = {"uri": route.uris["cell"], "line": 1}
    seconds, _ = await bridge.run_command(route.client, protocol.RUN_CELL, args)
    _expect(route.client, since, "2")
    return seconds * 1000


async def run_file(route: Route) -> float:
    since = len(route.client.outputs)
    args = {"uri": route.uris["file"]}
    seconds, _ = await bridge.run_command(route.client, protocol.RUN_FILE, args)
    _expect(route.client, since, "1")
    return seconds * 1000


async def changed_file(route: Route) -> float:
    file = route.workspace / CHANGED
    await _write(file, f"# changed {time.perf_counter_ns()}\n")
    seconds, result = await sync(route.client)
    if list(field(result, "uploaded") or []) != [CHANGED]:
        raise RuntimeError(f"the sync of one changed file uploaded {field(result, 'uploaded')}")
    return seconds * 1000


def save_probe(data_dir: Path) -> Callable[[Route], Awaitable[float]]:
    """didSave until the session's copy (the server's work dir on this disk) has the text."""

    async def once(route: Route) -> float:
        file = route.workspace / "wan_saved.py"
        text = f"saved = {time.perf_counter_ns()}\n"
        await _write(file, text)
        started = time.perf_counter()
        route.client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=route.uris["saved"])
            )
        )
        deadline = started + SAVE_TIMEOUT
        while not _arrived(data_dir, text):
            if time.perf_counter() > deadline:
                raise RuntimeError("the saved file never reached the session")
            await asyncio.sleep(SAVE_POLL)
        return (time.perf_counter() - started) * 1000

    return once


def _arrived(data_dir: Path, text: str) -> bool:
    for copy in data_dir.glob("sessions/*/work/wan_saved.py"):
        try:
            if copy.read_text() == text:
                return True
        except FileNotFoundError:
            continue
    return False


def completion_probe(misses: dict[str, int]) -> Callable[[Route], Awaitable[float]]:
    async def once(route: Route) -> float:
        seconds, labels = await route.client.complete(
            route.uris["complete"], 0, len(RUNTIME_PREFIX)
        )
        if RUNTIME_NAME not in labels:
            misses[route.name] = misses.get(route.name, 0) + 1
        return seconds * 1000

    return once


async def open_terminal(route: Route) -> WebSocketPty:
    descriptor = await route.client.command(protocol.TERMINAL_DESCRIPTOR)
    if descriptor is None:
        raise RuntimeError(f"no terminal descriptor: {route.client.messages[-3:]}")
    term = await WebSocketPty.connect(field(descriptor, "url"), field(descriptor, "headers"))
    await term.send(SET_PROMPT)
    await term.buffer.wait_for(PROMPT, 0)
    return term


def echo_probe() -> Callable[[Route], Awaitable[float]]:
    """One keystroke's echo; comment lines (`#xxx…`, Enter) so the shell runs nothing."""
    typed: dict[str, int] = {}

    async def once(route: Route) -> float:
        term = route.terminal
        assert term is not None
        count = typed.get(route.name, 0)
        typed[route.name] = count + 1
        if count % 40 == 0:
            if count:
                await _key(term, b"\r", PROMPT)
            await _key(term, b"#", b"#")
        return await _key(term, b"x", b"x") * 1000

    return once


async def _key(term: WebSocketPty, key: bytes, echo: bytes) -> float:
    mark = len(term.buffer.data)
    started = time.perf_counter()
    await term.send(key)
    await term.buffer.wait_for(echo, mark)
    return time.perf_counter() - started


def bulk_probe(size: int) -> Callable[[Route], Awaitable[float]]:
    command = f"\rhead -c {size} /dev/zero | base64 -w 100; echo WAN''BULK''DONE\r".encode()

    async def once(route: Route) -> float:
        term = route.terminal
        assert term is not None
        mark = len(term.buffer.data)
        started = time.perf_counter()
        await term.send(command)
        end = await term.buffer.wait_for(b"WANBULKDONE", mark)
        elapsed = time.perf_counter() - started
        await term.buffer.wait_for(PROMPT, end)
        del term.buffer.data[: len(term.buffer.data) - 64]  # keep memory flat
        return elapsed * 1000

    return once


# -- fresh language servers: session start and the first sync ---------------------------------


@attrs.define
class Fresh:
    start_ms: dict[str, list[float]] = attrs.Factory(lambda: {LOOP: [], WAN: []})
    sync_ms: dict[str, list[float]] = attrs.Factory(lambda: {LOOP: [], WAN: []})
    kernel_ms: dict[str, list[float]] = attrs.Factory(lambda: {LOOP: [], WAN: []})
    start_traffic: dict[str, list[Traffic]] = attrs.Factory(lambda: {LOOP: [], WAN: []})
    sync_traffic: dict[str, list[Traffic]] = attrs.Factory(lambda: {LOOP: [], WAN: []})


async def fresh_trial(
    cfg: BenchConfig, server: RunningServer, proxy: WanProxy, name: str, root: Path,
    expected: int, fresh: Fresh, trial: int,
) -> None:  # fmt: skip
    """A new language server on ``root`` and a new session: from `initialized` (the language
    server has started and answered `initialize`) to its first run's end, then the first
    workspace sync into that session; the session is destroyed after."""
    session = f"bench-wanfresh-{name}-{proxy.port}-{trial}"
    options = {"syncOnStart": False, "sessionName": session}
    mark = (len(proxy.requests), proxy.connections)
    async with lsp_server(
        bridge_argv(), workspace=root, log_file=cfg.work_dir / f"wan-fresh-{name}.lsp.log",
        env=_env(server, proxy), init_options={"baiBridge": options},
    ) as client:  # fmt: skip
        await bridge.first_run(client, cfg.work_dir / "wan-ready.py", SESSION_START_RETRY)
        fresh.start_ms[name].append((time.perf_counter() - client.initialized_sent) * 1000)
        fresh.start_traffic[name].append(_since(proxy, *mark))
        fresh.kernel_ms[name].append(_create_ms(proxy.requests[mark[0] :]))
        mark = (len(proxy.requests), proxy.connections)
        seconds, result = await sync(client)
        fresh.sync_traffic[name].append(_since(proxy, *mark))
        if len(field(result, "uploaded") or []) < expected:
            raise RuntimeError(f"the first sync uploaded {len(field(result, 'uploaded'))} files")
        fresh.sync_ms[name].append(seconds * 1000)
        await client.command(protocol.DESTROY)


def _create_ms(requests: list[SeenRequest]) -> float:
    """The kernel's own start: the server's time answering the session's create request
    (it answers once the kernel has started)."""
    for request in requests:
        if request.method == "POST" and request.target.split("?")[0] in CREATE_PATHS:
            if request.server_s is None:
                break
            return request.server_s * 1000
    raise RuntimeError("the proxy saw no answered create request")


# -- the row ----------------------------------------------------------------------------------


@attrs.frozen
class Spec:
    """A row: its id and the WAN path's link."""

    row: str
    link: Link

    @property
    def rtt_ms(self) -> float:
        return self.link.rtt_s * 1000


def link_for(cfg: BenchConfig, capped: bool) -> Link:
    rate = cfg.wan_cap_mbit * 1e6 / 8 if capped else None
    return Link(one_way_s=cfg.wan_one_way_s, rate_bps=rate)


def _rtt_goal(spec: Spec, limit: float, minus_ms: float = 0.0, beside: str = "") -> Goal:
    """≤ ``limit`` round trips, once ``minus_ms`` (what ``beside`` names) is taken off."""
    return Goal(f"≤ {limit:g} RTT{beside}", lambda ms: (ms - minus_ms) / spec.rtt_ms <= limit)


def figure(
    spec: Spec, name: str, wan: list[float], loop: list[float], goal: Goal | None,
    traffic: list[Traffic], *, minus_ms: float = 0.0, note: str = "",
) -> Figure:  # fmt: skip
    """A WAN figure: the WAN time beside its loopback time, in round trips (less ``minus_ms``,
    a cost that is not the network's)."""
    mine, base = Summary.of(wan), Summary.of(loop)
    described, listed = traffic_note(traffic)
    notes = [n for n in (note, f"WAN path: {described}: {listed}") if n]
    return Figure(
        spec.row, name, "ms", mine, base, LOOP_NAME,
        mine.median / base.median if base.median else None,
        goal.text if goal else "(context)", goal.met(mine.median) if goal else None,
        round_trips=(mine.median - minus_ms) / spec.rtt_ms, traffic=described,
        note="; ".join(notes),
    )  # fmt: skip


@asynccontextmanager
async def session_store(cfg: BenchConfig, row: str) -> AsyncIterator[tuple[Path, str]]:
    """Where the server keeps its sessions' files, and what the first sync's note says of it.

    On tmpfs when the machine has one: these rows measure the bridge's round trips, and this
    machine's ext4 root has no journal, where creating a file skips, one by one, every inode
    freed in the last ~30 s (`find_inode_bit` → `recently_deleted`); the fresh trials destroy a
    session of 500 files before each next one, so 500 creates cost 30–450 ms of the server's
    time depending on what was freed before. A journalled ext4, APFS or a cluster's storage
    does not do that."""
    shm = "/dev/shm"
    if not await asyncio.to_thread(lambda: os.path.isdir(shm) and os.access(shm, os.W_OK)):
        yield cfg.work_dir / f"wan-{row}-server", "the sessions' files on this machine's disk"
        return
    store = Path(
        await asyncio.to_thread(tempfile.mkdtemp, prefix=f"bai-bridge-wan-{row}-", dir=shm)
    )
    try:
        yield store, "the sessions' files on tmpfs (see wan.session_store)"
    finally:
        await asyncio.to_thread(shutil.rmtree, store, True)


async def measure(cfg: BenchConfig, spec: Spec) -> list[Figure]:
    figures: list[Figure] = []
    log_file = cfg.work_dir / f"wan-{spec.row}-server.log"
    async with (
        session_store(cfg, spec.row) as (data_dir, stored),
        local_server(data_dir, log_file, cfg.server_profile) as server,
    ):
        log.info(
            "row %s: server up (profile %s), %s", spec.row, cfg.server_profile or "default", stored
        )
        figures += await fresh_figures(cfg, spec, server, stored)
        log.info("row %s: session starts and first syncs measured", spec.row)
        async with AsyncExitStack() as stack:
            loop, wan = await asyncio.gather(  # set-up, not measured: both at once
                stack.enter_async_context(route_through(cfg, server, spec.row, LOOP, Link())),
                stack.enter_async_context(route_through(cfg, server, spec.row, WAN, spec.link)),
            )
            log.info("row %s: both routes up", spec.row)
            figures += await latency_figures(cfg, spec, data_dir, loop, wan)
            log.info("row %s: latencies measured", spec.row)
            figures += await idle_figure(cfg, spec, loop, wan)
            figures += await terminal_figures(cfg, spec, loop, wan)
            log.info("row %s: idle and terminal measured", spec.row)
    return figures


async def fresh_figures(
    cfg: BenchConfig, spec: Spec, server: RunningServer, stored: str
) -> list[Figure]:
    root = cfg.work_dir / f"wan-{spec.row}-fresh-ws"
    paths = await asyncio.to_thread(make_workspace, root, cfg.wan_files, cfg.wan_big_mib)
    size = total_bytes(paths)
    fresh = Fresh()
    async with AsyncExitStack() as stack:
        proxies = {
            LOOP: await stack.enter_async_context(WanProxy("127.0.0.1", _port(server), Link())),
            WAN: await stack.enter_async_context(WanProxy("127.0.0.1", _port(server), spec.link)),
        }
        for trial in range(cfg.wan_fresh_trials):
            for name, proxy in proxies.items():
                await fresh_trial(cfg, server, proxy, name, root, len(paths), fresh, trial)
    kernel = Summary.of(fresh.kernel_ms[WAN])
    what = f"first sync, {cfg.wan_files} files + {cfg.wan_big_mib} MiB"
    rate = spec.link.rate_bps
    if rate:
        transfer_ms = size / rate * 1000
        sync_goal = Goal(
            f"≤ 1.3× the link's transfer time ({transfer_ms:,.0f} ms)",
            lambda ms: ms <= 1.3 * transfer_ms,
        )
    else:
        sync_goal = _rtt_goal(spec, 8)
    return [
        figure(spec, "session start (initialized → first run done)", fresh.start_ms[WAN],
               fresh.start_ms[LOOP], _rtt_goal(spec, 3, kernel.median, " + the kernel's own start"),
               fresh.start_traffic[WAN], minus_ms=kernel.median,
               note=f"round trips counted after the kernel's own start, {kernel.median:.0f} ms "
                    "(the server's time on the create request, WAN path; loopback path "
                    f"{statistics.median(fresh.kernel_ms[LOOP]):.0f} ms)"),
        figure(spec, what, fresh.sync_ms[WAN], fresh.sync_ms[LOOP], sync_goal,
               fresh.sync_traffic[WAN], note=f"{size / 1e6:.2f} MB of files, {stored}"),
    ]  # fmt: skip


Action = Callable[[Route], Awaitable[float]]


async def in_turns(
    loop: Route, wan: Route, key: str, action: Action, trials: int
) -> tuple[Summary, Summary, list[float], list[float]]:
    samples: dict[str, list[float]] = {LOOP: [], WAN: []}

    def probe(route: Route) -> Probe:
        async def once() -> float:
            value = await route.counted(key, action)
            samples[route.name].append(value)
            return value

        return once

    summaries, _ = await interleave(
        {LOOP: probe(loop), WAN: probe(wan)}, warmup=WARMUP, trials=trials
    )
    wan.traffic[key] = wan.traffic[key][WARMUP:]
    return summaries[LOOP], summaries[WAN], samples[LOOP][WARMUP:], samples[WAN][WARMUP:]


async def latency_figures(
    cfg: BenchConfig, spec: Spec, data_dir: Path, loop: Route, wan: Route
) -> list[Figure]:
    misses: dict[str, int] = {}
    coalescing = SAVE_COALESCE * 1000  # a save waits this long on purpose: saves in a burst
    save_goal = _rtt_goal(spec, 2.4, coalescing, f" + the {coalescing:.0f} ms coalescing wait")
    actions: list[tuple[str, str, Action, Goal | None]] = [
        ("cell", "Run Cell `1+1`", run_cell, _rtt_goal(spec, 1.4)),
        ("selection", "Run Selection `1+1`", run_selection, _rtt_goal(spec, 1.4)),
        ("file", "Run File `print(1)`", run_file, _rtt_goal(spec, 2.4)),
        ("changed", "sync of one changed file", changed_file, _rtt_goal(spec, 2.4)),
        ("save", "save (didSave → file in the session)", save_probe(data_dir), save_goal),
        ("complete", f"completion of a runtime name (`{RUNTIME_PREFIX}`)",
         completion_probe(misses), None),
    ]  # fmt: skip
    figures = []
    for key, name, action, goal in actions:
        try:
            _, _, loop_ms, wan_ms = await in_turns(loop, wan, key, action, cfg.wan_trials)
        except Exception as error:
            log.exception("action %s failed", key)
            figures.append(
                skipped(spec.row, name, "ms", f"{error!r}"[:300], goal=goal.text if goal else "")
            )
            continue
        note = ""
        if key == "complete":
            sources = ", ".join(sorted(wan.client.completion_sources)) or "none"
            lacking = ", ".join(f"{n}: {c}" for n, c in misses.items())
            note = f"items' source: {sources}" + (
                f"; answers lacking it: {lacking}" if lacking else ""
            )
        minus = coalescing if key == "save" else 0.0
        figures.append(
            figure(spec, name, wan_ms, loop_ms, goal, wan.traffic[key], minus_ms=minus, note=note)
        )
    return figures


async def idle_figure(cfg: BenchConfig, spec: Spec, loop: Route, wan: Route) -> list[Figure]:
    """Both paths idle at the same time; then each runs its first request, loopback first."""
    name = f"first request after {cfg.wan_idle_s:g} s idle (Run Selection `1+1`)"
    goal = _rtt_goal(spec, 1.4)
    samples: dict[str, list[float]] = {LOOP: [], WAN: []}
    await asyncio.sleep(cfg.wan_idle_s)  # the idle itself: the condition measured
    for route in (loop, wan):
        samples[route.name].append(await route.counted("idle", run_selection))
    return [figure(spec, name, samples[WAN], samples[LOOP], goal, wan.traffic["idle"])]


async def terminal_figures(cfg: BenchConfig, spec: Spec, loop: Route, wan: Route) -> list[Figure]:
    for route in (loop, wan):
        route.terminal = await open_terminal(route)
    try:
        _, _, loop_echo, wan_echo = await in_turns(loop, wan, "echo", echo_probe(), cfg.wan_trials)
        bulk_trials = max(1, min(3, cfg.wan_trials))
        _, _, loop_bulk, wan_bulk = await in_turns(
            loop, wan, "bulk", bulk_probe(cfg.wan_bulk_bytes), bulk_trials
        )
    finally:
        for route in (loop, wan):
            if route.terminal is not None:
                await route.terminal.close()
    out_mb = cfg.wan_bulk_bytes * 4 / 3 / 1e6
    return [
        figure(spec, "PTY keystroke echo", wan_echo, loop_echo, None, wan.traffic["echo"]),
        figure(spec, f"PTY bulk output, {out_mb:.2g} MB", wan_bulk, loop_bulk, None,
               wan.traffic["bulk"],
               note=f"WAN {out_mb / statistics.median(wan_bulk) * 1000:.1f} MB/s"),
    ]  # fmt: skip


async def run_row(cfg: BenchConfig, row: str, *, capped: bool) -> list[Figure]:
    spec = Spec(row, link_for(cfg, capped))
    return await measure(cfg, spec)
