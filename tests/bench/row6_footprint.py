"""Row 6: memory of an idle `bai-bridge lsp` with its embedded server (kernels apart), and
what each extra session costs on a standalone local server."""

from __future__ import annotations

from bai_bridge.api import APIConfig, APISession
from bench import bridge
from bench.config import BenchConfig
from bench.local_server import local_server
from bench.procs import children, rss_mib, settled_rss_mib, tree_rss_mib
from bench.stats import Figure, Summary, skipped

ROW = "6"
IMAGE = "python:3.11-ubuntu22.04"
GOAL_IDLE = "≤ 80 MB RSS (kernels apart)"


async def idle_language_server(cfg: BenchConfig) -> Summary:
    """RSS of the language server process once its session has run code and it has settled
    (background warm-ups done)."""
    idle = []
    for trial in range(cfg.output_trials):
        async with bridge.bridge(cfg, f"row6-{trial}") as (client, _):
            idle.append(await settled_rss_mib(client.pid))
    return Summary.of(idle)


async def extra_sessions(cfg: BenchConfig) -> tuple[Summary, Summary]:
    """Per extra session: growth of the server process alone, and of server plus kernels."""
    server_growth, tree_growth = [], []
    async with local_server(cfg.work_dir / "row6-server", cfg.work_dir / "row6-server.log") as s:
        config = APIConfig.from_env(s.env())
        async with APISession(config) as api:
            kernels = []
            first = await api.Kernel.get_or_create(IMAGE, client_token="bench-footprint-0")
            kernels.append(first)
            await _settle(first)
            for i in range(1, cfg.extra_sessions + 1):
                server_before, tree_before = rss_mib(s.pid), tree_rss_mib(s.pid)
                kernel = await api.Kernel.get_or_create(IMAGE, client_token=f"bench-footprint-{i}")
                kernels.append(kernel)
                await _settle(kernel)
                server_growth.append(rss_mib(s.pid) - server_before)
                tree_growth.append(tree_rss_mib(s.pid) - tree_before)
            if len(children(s.pid)) < len(kernels):
                raise RuntimeError("fewer kernel processes than sessions")
            for kernel in kernels:
                await kernel.destroy()
    return Summary.of(server_growth), Summary.of(tree_growth)


async def _settle(kernel: object) -> None:
    """One small run, so the session is fully up (kernel started, channels open)."""
    async for _ in kernel.run("0"):  # type: ignore[attr-defined]
        pass


async def run(cfg: BenchConfig) -> list[Figure]:
    reason = bridge.unavailable()
    if reason:
        return [skipped(ROW, "idle language server", "MiB", reason, goal=GOAL_IDLE)]
    idle = await idle_language_server(cfg)
    server, tree = await extra_sessions(cfg)
    return [
        Figure(ROW, "idle `bai-bridge lsp` + embedded server, session started, settled", "MiB",
               idle, goal=GOAL_IDLE, met=idle.median <= 80),
        Figure(ROW, "each extra session: server process", "MiB", server,
               goal="reported"),
        Figure(ROW, "each extra session: server + its kernel", "MiB", tree,
               goal="reported"),
    ]  # fmt: skip
