"""Row 4: workspace sync of many small files plus one large file, first and with nothing
changed, next to a raw loopback multipart upload of the same bytes and to the official client
uploading the small files."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
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


async def raw_upload(cfg: BenchConfig, root: Path, paths: list[Path]) -> Summary:
    """All files in one multipart request to a bare aiohttp receiver in its own process."""
    dest = cfg.work_dir / "row4-raw-dest"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("raw_upload_server.py")), str(dest),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        port = int(await process.stdout.readline())
        size, samples = total_bytes(paths), []
        async with aiohttp.ClientSession() as http:
            for _ in range(cfg.output_trials):
                started = time.perf_counter()
                await _post_files(http, f"http://127.0.0.1:{port}/upload", root, paths)
                samples.append(mb_per_s(size, time.perf_counter() - started))
        return Summary.of(samples)
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


async def _sync(client: object) -> tuple[float, object]:
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
    cfg: BenchConfig, name: str, root: Path, paths: list[Path], no_change: int = NO_CHANGE_REPEATS
) -> tuple[Summary, Summary | None]:
    """First sync (MB/s, a fresh session each trial) and no-change syncs (ms)."""
    size, first, unchanged = total_bytes(paths), [], []
    for trial in range(cfg.output_trials):
        options = {"syncOnStart": False, "sessionName": f"bench-{name}-{trial}"}
        async with bridge.bridge(cfg, name, workspace=root, options=options) as (client, _):
            seconds, result = await _sync(client)
            if len(field(result, "uploaded") or []) < len(paths):
                raise RuntimeError(f"first sync uploaded {len(field(result, 'uploaded'))} files")
            first.append(mb_per_s(size, seconds))
            for _ in range(no_change):
                seconds, result = await _sync(client)
                if field(result, "uploaded"):
                    raise RuntimeError("a sync with nothing changed uploaded files")
                unchanged.append(seconds * 1000)
    return Summary.of(first), Summary.of(unchanged) if unchanged else None


async def small_files(
    cfg: BenchConfig, root: Path, paths: list[Path]
) -> tuple[Summary, Summary | None, str | None]:
    """The official client's upload and the bridge's first sync of the same small files, taken
    in turns, each into a fresh session: the disk's state (the writeback of what earlier trials
    wrote) then falls on both alike. (official, bridge or None, why the bridge is missing)."""
    once = attrs.evolve(cfg, output_trials=1)
    rounds = itertools.count()

    async def official() -> float:
        return (await official_client(once, root, paths)).median

    async def mine() -> float:
        first, _ = await bridge_sync(once, f"row4-small-{next(rounds)}", root, paths, 0)
        return first.median

    reason = bridge.unavailable()
    probes: dict[str, Probe] = {"official": official}
    if not reason:
        probes["bridge"] = mine
    summaries, failures = await interleave(
        probes, warmup=0, trials=cfg.output_trials, tolerant=frozenset({"bridge"})
    )
    return summaries["official"], summaries.get("bridge"), reason or failures.get("bridge")


async def run(cfg: BenchConfig) -> list[Figure]:
    full_root, small_root = cfg.work_dir / "row4-full", cfg.work_dir / "row4-small"
    paths = await asyncio.to_thread(make_workspace, full_root, cfg.small_files, cfg.big_file_mib)
    small = await asyncio.to_thread(make_workspace, small_root, cfg.small_files, 0)
    what = f"{cfg.small_files:,} small files + {cfg.big_file_mib} MiB"
    raw = await raw_upload(cfg, full_root, paths)
    peer, mine_small, small_reason = await small_files(cfg, small_root, small)
    measured, reason = await bridge.attempt(
        lambda c: bridge_sync(c, "row4-full", full_root, paths), cfg
    )
    if reason or small_reason or mine_small is None:
        first = skipped(
            ROW, f"first sync, {what}", "MB/s", str(reason or small_reason), goal=GOAL_FIRST
        )
        first.baseline, first.baseline_name = raw, "raw multipart upload"
        small_fig = skipped(
            ROW, "small files", "MB/s", str(reason or small_reason), goal=GOAL_SMALL
        )
        small_fig.baseline, small_fig.baseline_name = peer, "official client 23.9.10"
        return [first, small_fig]
    assert measured is not None
    mine_first, mine_unchanged = measured
    assert mine_unchanged is not None
    r_first, r_small = ratio(mine_first, raw), ratio(mine_small, peer)
    return [
        Figure(ROW, f"first sync, {what}", "MB/s", mine_first, raw, "raw multipart upload",
               r_first, GOAL_FIRST, r_first is not None and r_first >= 0.5,
               headline=True, goal_speed=0.5),
        Figure(ROW, "sync with nothing changed", "ms", mine_unchanged, goal=GOAL_NOCHANGE,
               met=mine_unchanged.median <= 100),
        Figure(ROW, f"{cfg.small_files:,} small files", "MB/s", mine_small, peer,
               "official client 23.9.10", r_small, GOAL_SMALL,
               r_small is not None and r_small >= 1, headline=True, goal_speed=1.0),
    ]  # fmt: skip
