"""Row s1: a package only the session has, over the emulated WAN (25 ms each way).

The session's kernel has on its PYTHONPATH packages of ~500 pure-Python files each that the
language server's environment lacks. Each trial opens a new buffer importing one of them (a
package not fetched before) and completes in it as a person would type, a keystroke every
``KEYSTROKE`` s: how long from opening the buffer to the first completion that lists the
package's member (goal ≤ 2 s), and what a keystroke's completion on the buffer's own names
costs while the fetch runs, beside the same keystroke once it is over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from bench import bridge
from bench.config import BenchConfig
from bench.local_server import local_server
from bench.lsp_client import BenchClient
from bench.stats import Figure, Summary
from bench.wan import link_for
from wanproxy import WanProxy

log = logging.getLogger(__name__)

ROW = "s1"
SUBPACKAGES, MODULES = 20, 25  # 500 modules (and 20 __init__.py) a package
KEYSTROKE = 0.1  # s between completions while waiting, as a person types
FIRST_LIMIT = 30.0  # s: a trial that takes longer failed
CONTROL = "local_value = 1\nlocal_va"  # the buffer's own name: jedi alone, no package
AFTER = 5  # rounds of the same typing once the member completed: the no-fetch baseline


def module_source(i: int) -> str:
    functions = "\n\n".join(
        f"def helper_{i}_{j}(value: int, scale: float = 1.0) -> float:\n"
        f'    """Scale value ({j})."""\n    return value * scale * {j}\n'
        for j in range(20)
    )
    return (
        f'"""Module {i} of a package only the session has."""\n\n\n'
        f"class Widget{i}:\n    size: int = {i}\n\n    def grow(self, by: int) -> int:\n"
        f"        return self.size + by\n\n\n{functions}"
    )


def build_packages(site: Path, count: int) -> list[str]:
    """``count`` packages of 520 files each under ``site``; their names."""
    names = []
    for n in range(count):
        name = f"benchonly_pkg{n}"
        for s in range(SUBPACKAGES):
            folder = site / name / f"sub{s:02d}"
            folder.mkdir(parents=True)
            (folder / "__init__.py").write_text("")
            for m in range(MODULES):
                (folder / f"mod{m:02d}.py").write_text(module_source(m))
        (site / name / "__init__.py").write_text("")
        names.append(name)
    return names


async def first_static_completion(
    client: BenchClient, work: Path, package: str
) -> tuple[float, list[float], list[float]]:
    """Open a buffer importing ``package``; (seconds to the first completion listing its
    member, each control keystroke's latency in s meanwhile, and the same keystrokes' in
    `AFTER` more rounds of the same typing once the fetch is over)."""
    target = f"{package}.sub07.mod12"
    text = f"import {target}\n{CONTROL}\n{target}.Wid"
    path = work / f"use_{package}.py"
    path.write_text(text)
    started = time.perf_counter()
    uri = client.open(path, text)
    keystrokes: list[float] = []
    while time.perf_counter() - started < FIRST_LIMIT:
        _, labels = await client.complete(uri, 3, len(target) + 4)
        if "Widget12" in labels:
            first = time.perf_counter() - started
            after = [await _round(client, uri, target) for _ in range(AFTER)]
            return first, keystrokes, after
        elapsed, _ = await client.complete(uri, 2, len("local_va"))
        keystrokes.append(elapsed)
        await asyncio.sleep(KEYSTROKE)  # the person's pace, not a wait for the fetch
    raise RuntimeError(f"{package} never completed within {FIRST_LIMIT} s")


async def _round(client: BenchClient, uri: str, target: str) -> float:
    """One round of the typing above (the member, then the buffer's own name): the latter's
    latency in s."""
    await client.complete(uri, 3, len(target) + 4)
    elapsed, _ = await client.complete(uri, 2, len("local_va"))
    await asyncio.sleep(KEYSTROKE)
    return elapsed


async def idle_keystrokes(client: BenchClient, work: Path, trials: int) -> list[float]:
    path = work / "idle.py"
    uri = client.open(path, CONTROL)
    found = []
    for _ in range(trials):
        elapsed, _ = await client.complete(uri, 1, len("local_va"))
        found.append(elapsed)
    return found


async def run(cfg: BenchConfig) -> list[Figure]:
    trials = 2 if cfg.quick else 5
    work = cfg.work_dir / "s1"
    site = work / "site"
    names = await asyncio.to_thread(build_packages, site, trials)
    link = link_for(cfg, capped=False)
    async with (
        local_server(work / "server", work / "server.log", cfg.server_profile) as server,
        WanProxy("127.0.0.1", int(server.endpoint.rsplit(":", 1)[1]), link) as proxy,
    ):
        env = {
            **server.env(),
            "BACKEND_ENDPOINT": proxy.address,
            "BAI_BRIDGE_CACHE_DIR": str(work / "cache"),
        }
        options = {
            "syncOnStart": False,
            "sessionName": f"bench-s1-{proxy.port}",
            "envs": {"PYTHONPATH": str(site)},
        }
        async with bridge.bridge(cfg, "s1", env=env, options=options) as (client, workspace):
            # First: it also warms jedi, whose cold start is no fetch's doing.
            idle = [k * 1000 for k in await idle_keystrokes(client, workspace, cfg.trials)]
            firsts, during, after = [], [], []
            for name in names:
                requests = len(proxy.requests)
                seconds, keystrokes, quiet = await first_static_completion(client, workspace, name)
                log.info(
                    "s1: %s first completion in %.2f s (%d requests)",
                    name,
                    seconds,
                    len(proxy.requests) - requests,
                )
                firsts.append(seconds * 1000)
                during.extend(k * 1000 for k in keystrokes)
                after.extend(k * 1000 for k in quiet)
    first = Summary.of(firsts)
    keys, base = Summary.of(during or idle), Summary.of(after)
    rtt = link.rtt_s * 1000
    return [
        Figure(
            ROW, f"open a file importing a 520-file session-only package → first static "
            f"completion of its member ({rtt:g} ms RTT)", "ms", first,
            goal="≤ 2000 ms", met=first.median <= 2000, headline=True,
            note="pack in the session, one download, check, unpack; jedi reads the cache",
        ),
        Figure(
            ROW, "keystroke completion (the buffer's own name) while that fetch runs", "ms",
            keys, base, "the same typing once the fetch is over", keys.median / base.median,
            goal="unchanged (≤ 1.5× without a fetch)", met=keys.median <= 1.5 * base.median + 5,
            note=f"{len(during)} keystrokes during fetches; the same keystroke alone in a "
            f"buffer of its own (jedi's kept answer) {Summary.of(idle).median:.2g} ms",
        ),
    ]  # fmt: skip
