"""What moving the kernel to a cell's folder costs, counted on the wire (the WAN emulator sees
every request): cells run over the execute WebSocket, so a plain execute request during Run
Cell is the silent query that sets the working directory. A one-folder workspace never sends
one; a multi-folder one sends one when the folder changes, and again after a restart (the
kernel starts in the work dir)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol
from serverkit import StandaloneServer
from wanproxy import WanProxy

from .lsp_harness import (
    Recorder,
    capabilities,
    command,
    field,
    open_doc,
    run_cell,
    start_client,
    stop_server,
    uri_of,
)
from .test_standalone_backend import Backend

# Nothing else talks to the session between runs: no sync, no snapshot, no environment query.
QUIET = {"syncOnStart": False, "namespaceMirror": False, "sessionEnvironment": False}
EXECUTE = re.compile(r"/(session|kernel)/[^/?]+(\?.*)?")  # POST here: a query run over HTTP
CELL = "# %%\nimport os\nprint(os.getcwd())\n"


@asynccontextmanager
async def bridge_on(
    proxy: WanProxy, local_server_process: StandaloneServer, profile: str, roots: list[Path]
) -> AsyncIterator[tuple[LanguageClient, Recorder]]:
    backend = Backend(local_server_process, profile)
    client = await start_client(profile, {**backend.env, "BACKEND_ENDPOINT": proxy.address})
    try:
        recorder = Recorder(client)
        await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities(),
                root_uri=uri_of(roots[0]),
                workspace_folders=[types.WorkspaceFolder(uri_of(r), r.name) for r in roots],
                initialization_options={"baiBridge": QUIET},
            )
        )
        await recorder.wait_for("the session", lambda: recorder.state() == "running")
        yield client, recorder
    finally:
        await stop_server(client)
        await client.stop()


def executes(proxy: WanProxy) -> int:
    return len([r for r in proxy.requests if r.method == "POST" and EXECUTE.fullmatch(r.target)])


async def cell_in(client: LanguageClient, bridge: Recorder, proxy: WanProxy, root: Path) -> int:
    """Run a cell of a file in ``root``: the plain execute requests it took."""
    before = executes(proxy)
    done = await run_cell(client, open_doc(client, root / "cell.py", CELL), 1)
    assert field(done, "status") == "finished", bridge.text(field(done, "runId"), "stderr")
    return executes(proxy) - before


async def test_a_one_folder_workspace_sends_no_query_for_the_place(
    proxy: WanProxy, local_server_process: StandaloneServer, profile: str, tmp_path: Path
) -> None:
    root = tmp_path / "only"
    async with bridge_on(proxy, local_server_process, profile, [root]) as (client, bridge):
        assert await cell_in(client, bridge, proxy, root) == 0
        assert await cell_in(client, bridge, proxy, root) == 0
        await command(client, protocol.RESTART)
        await bridge.wait_for("the restart", lambda: bridge.state() == "running")
        assert await cell_in(client, bridge, proxy, root) == 0


async def test_a_query_goes_only_when_the_folder_changes(
    proxy: WanProxy, local_server_process: StandaloneServer, profile: str, tmp_path: Path
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        root.mkdir()
    async with bridge_on(proxy, local_server_process, profile, [first, second]) as (
        client,
        bridge,
    ):
        assert await cell_in(client, bridge, proxy, first) == 0  # a new kernel: the work dir
        assert await cell_in(client, bridge, proxy, second) == 1
        assert await cell_in(client, bridge, proxy, second) == 0
        await command(client, protocol.RESTART)
        await bridge.wait_for("the restart", lambda: bridge.state() == "running")
        assert await cell_in(client, bridge, proxy, second) == 1  # started again in the work dir
        assert await cell_in(client, bridge, proxy, first) == 1
