"""Row 4: workspace sync of many small files plus one large file, first and with nothing
changed, next to a raw loopback multipart upload of the same bytes and to the official client
uploading the small files."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import attrs

from bai_bridge.lsp import protocol
from bench import bridge
from bench.config import PEER_PYTHON, BenchConfig
from bench.interleave import Probe, interleave
from bench.local_server import local_server
from bench.lsp_client import field
from bench.stats import Figure, Summary, ratio, skipped
from bench.workspace_data import make_workspace, total_bytes

ROW = "4"
IMAGE = "python:3.11-ubuntu22.04"
PEER_BATCH = 20  # the server's (and real managers') files-per-request limit
NO_CHANGE_REPEATS = 5
SYNC_TIMEOUT = 900.0
GOAL_FIRST = "≥ 50% of raw (ratio ≥ 0.5)"
GOAL_NOCHANGE = "≤ 100 ms"
GOAL_SMALL = "≥ 1× the official client (ratio ≥ 1)"


def mb_per_s(size: int, seconds: float) -> float:
    return size / seconds / 1e6


async def raw_upload(cfg: BenchConfig, root: Path, paths: list[Path], dest: Path) -> float:
    """MB/s of all files in one multipart request to a bare aiohttp receiver in its own
    process, writing into ``dest`` (fresh, as a first sync's session is)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("raw_upload_server.py")), str(dest),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = int(await process.stdout.readline())
        async with aiohttp.ClientSession() as http:
            started = time.perf_counter()
            await _post_files(http, f"http://127.0.0.1:{port}/upload", root, paths)
            return mb_per_s(total_bytes(paths), time.perf_counter() - started)
    finally:
        process.terminate()
        await process.wait()


async def _post_files(http: aiohttp.ClientSession, url: str, root: Path, paths: list[Path]) -> None:
    with aiohttp.MultipartWriter("form-data") as writer:
        handles = []
        try:
            for path in paths:
                handle = path.open("rb")
                handles.append(handle)
                part = writer.append(handle, {"Content-Type": "application/octet-stream"})
                part.set_content_disposition(
                    "form-data", name="src", filename=path.relative_to(root).as_posix()
                )
            async with http.post(url, data=writer) as response:
                response.raise_for_status()
        finally:
            for handle in handles:
                handle.close()


async def official_client(cfg: BenchConfig, root: Path, paths: list[Path]) -> Summary:
    """The official client's upload of the small files against a standalone local server."""
    async with local_server(cfg.work_dir / "row4-server", cfg.work_dir / "row4-server.log") as s:
        args = {
            "endpoint": s.endpoint, "access_key": s.access_key, "secret_key": s.secret_key,
            "image": IMAGE, "name": "bench-peer-upload", "basedir": str(root),
            "files": [p.relative_to(root).as_posix() for p in paths], "batch": PEER_BATCH,
            "trials": cfg.output_trials,
        }  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            str(PEER_PYTHON), str(Path(__file__).with_name("peer_upload.py")), json.dumps(args),
            stdout=asyncio.subprocess.PIPE, cwd=str(root),
        )  # fmt: skip
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the official client failed (exit {process.returncode})")
    size = total_bytes(paths)
    return Summary.of([mb_per_s(size, sec) for sec in json.loads(out)["seconds"]])


async def sync(client: object) -> tuple[float, object]:
    started = time.perf_counter()
    result = await asyncio.wait_for(
        client.command(protocol.SYNC_WORKSPACE),  # type: ignore[attr-defined]
        SYNC_TIMEOUT,
    )
    if result is None:
        raise RuntimeError(f"sync answered nothing: {client.messages[-3:]}")  # type: ignore[attr-defined]
    if field(result, "failed"):
        raise RuntimeError(f"sync failed for {field(result, 'failed')[:5]}")
    return time.perf_counter() - started, result


async def bridge_sync(
    cfg: BenchConfig, name: str, root: Path, paths: list[Path], no_change: int
) -> tuple[float, list[float]]:
    """A first sync into a fresh session (MB/s), then ``no_change`` syncs (ms each)."""
    options = {"syncOnStart": False, "sessionName": f"bench-{name}"}
    async with bridge.bridge(cfg, name, workspace=root, options=options) as (client, _):
        seconds, result = await sync(client)
        if len(field(result, "uploaded") or []) < len(paths):
            raise RuntimeError(f"first sync uploaded {len(field(result, 'uploaded'))} files")
        first = mb_per_s(total_bytes(paths), seconds)
        unchanged = []
        for _ in range(no_change):
            seconds, result = await sync(client)
            if field(result, "uploaded"):
                raise RuntimeError("a sync with nothing changed uploaded files")
            unchanged.append(seconds * 1000)
    return first, unchanged


@attrs.frozen
class Compared:
    baseline: Summary
    bridge: Summary | None
    unchanged: Summary | None  # the no-change syncs' ms, where they were taken
    missing: str | None  # why the bridge was not measured


async def in_turns(
    cfg: BenchConfig,
    name: str,
    baseline: Callable[[int], Awaitable[float]],
    root: Path,
    paths: list[Path],
    no_change: int = 0,
) -> Compared:
    """A baseline trial and a bridge trial in turns, each into a fresh destination, so the
    disk's state (the writeback of what earlier trials wrote) falls on both alike."""
    unchanged: list[float] = []
    rounds = {"baseline": itertools.count(), "bridge": itertools.count()}

    async def mine() -> float:
        trial = next(rounds["bridge"])
        first, ms = await bridge_sync(cfg, f"{name}-{trial}", root, paths, no_change)
        unchanged.extend(ms)
        return first

    probes: dict[str, Probe] = {"baseline": lambda: baseline(next(rounds["baseline"]))}
    reason = bridge.unavailable()
    if not reason:
        probes["bridge"] = mine
    summaries, failures = await interleave(
        probes, warmup=0, trials=cfg.output_trials, tolerant=frozenset({"bridge"})
    )
    return Compared(
        summaries["baseline"], summaries.get("bridge"),
        Summary.of(unchanged) if unchanged else None, reason or failures.get("bridge"),
    )  # fmt: skip


async def run(cfg: BenchConfig) -> list[Figure]:
    full_root, small_root = cfg.work_dir / "row4-full", cfg.work_dir / "row4-small"
    paths = await asyncio.to_thread(make_workspace, full_root, cfg.small_files, cfg.big_file_mib)
    small = await asyncio.to_thread(make_workspace, small_root, cfg.small_files, 0)
    what = f"{cfg.small_files:,} small files + {cfg.big_file_mib} MiB"

    async def raw(trial: int) -> float:
        return await raw_upload(cfg, full_root, paths, cfg.work_dir / f"row4-raw-{trial}")

    async def official(trial: int) -> float:
        return (await official_client(attrs.evolve(cfg, output_trials=1), small_root, small)).median

    full = await in_turns(cfg, "row4-full", raw, full_root, paths, NO_CHANGE_REPEATS)
    few = await in_turns(cfg, "row4-small", official, small_root, small)
    missing = full.missing or few.missing
    if missing or full.bridge is None or full.unchanged is None or few.bridge is None:
        why = missing or "no sample"
        first = skipped(ROW, f"first sync, {what}", "MB/s", why, goal=GOAL_FIRST)
        first.baseline, first.baseline_name = full.baseline, "raw multipart upload"
        small_fig = skipped(ROW, "small files", "MB/s", why, goal=GOAL_SMALL)
        small_fig.baseline, small_fig.baseline_name = few.baseline, "official client 23.9.10"
        return [first, small_fig]
    r_first, r_small = ratio(full.bridge, full.baseline), ratio(few.bridge, few.baseline)
    return [
        Figure(ROW, f"first sync, {what}", "MB/s", full.bridge, full.baseline,
               "raw multipart upload", r_first, GOAL_FIRST, r_first is not None and r_first >= 0.5,
               headline=True, goal_speed=0.5),
        Figure(ROW, "sync with nothing changed", "ms", full.unchanged, goal=GOAL_NOCHANGE,
               met=full.unchanged.median <= 100),
        Figure(ROW, f"{cfg.small_files:,} small files", "MB/s", few.bridge, few.baseline,
               "official client 23.9.10", r_small, GOAL_SMALL,
               r_small is not None and r_small >= 1, headline=True, goal_speed=1.0),
    ]  # fmt: skip
