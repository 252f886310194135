"""An LSP client over a subprocess's stdio (pygls's LanguageClient), as an editor drives it.

Used for `bai-bridge lsp` and for jedi-language-server alike. The server's stderr goes to a
log file (a pipe nobody reads would stall a chatty server).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shlex
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import cattrs
from lsprotocol import types
from pygls.lsp.client import LanguageClient
from pygls.protocol import default_converter
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCRequestMessage

from bench.config import VENV_BIN

log = logging.getLogger(__name__)
STOP_TIMEOUT = 20.0


def field(obj: Any, name: str, default: Any = None) -> Any:
    """Read a field of a custom payload, whether pygls handed it over as a dict or an object."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def plain_payloads() -> cattrs.Converter:
    """pygls's converter, but a custom message's payload stays the plain JSON an editor's client
    parses it into. pygls makes every dict in it an instance of a namedtuple class it creates
    for that dict (about 50 µs a dict): time of this client's, which would be charged to the
    server under test."""
    converter: cattrs.Converter = default_converter()
    for cls in (JsonRPCNotification, JsonRPCRequestMessage):
        converter.register_structure_hook(cls, lambda obj, cls: cls(**obj))
    return converter


class BenchClient(LanguageClient):
    """Records what the server pushes: run output, progress, session status, messages."""

    def __init__(self) -> None:
        super().__init__("bai-bridge-bench", "1", converter_factory=plain_payloads)
        self.outputs: list[tuple[float, Any]] = []
        self.output_changed = asyncio.Condition()
        self.statuses: list[Any] = []
        self.messages: list[str] = []
        self.progress: list[tuple[float, Any, Any]] = []
        self.progress_changed = asyncio.Condition()
        self.completion_sources: set[str] = set()  # the items' detail: where they came from
        self.package_reports: list[Any] = []  # baiBridge/sessionEnvironment
        self.initialized_sent = 0.0  # time.perf_counter() as `initialized` went out
        self._register()

    def _register(self) -> None:
        @self.feature("baiBridge/output")
        async def on_output(params: Any) -> None:
            async with self.output_changed:
                self.outputs.append((time.perf_counter(), params))
                self.output_changed.notify_all()

        @self.feature("baiBridge/sessionStatus")
        def on_status(params: Any) -> None:
            self.statuses.append(params)

        @self.feature("baiBridge/sessionEnvironment")
        def on_packages(params: Any) -> None:
            self.package_reports.append(params)

        @self.feature("baiBridge/input")
        def on_input(params: Any) -> None:
            return None  # the benchmark never answers input: the run is cancelled

        @self.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def on_progress_create(params: Any) -> None:
            return None

        @self.feature(types.PROGRESS)
        async def on_progress(params: Any) -> None:
            async with self.progress_changed:
                self.progress.append((time.perf_counter(), field(params, "token"), params.value))
                self.progress_changed.notify_all()

        @self.feature(types.WORKSPACE_CONFIGURATION)
        def on_configuration(params: types.ConfigurationParams) -> list[Any]:
            return [None for _ in params.items]

        @self.feature(types.CLIENT_REGISTER_CAPABILITY)
        def on_register(params: Any) -> None:
            return None

        @self.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(params: types.ShowMessageParams) -> None:
            self.messages.append(params.message)

        @self.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(params: Any) -> None:
            pass

        @self.feature(types.WINDOW_LOG_MESSAGE)
        def on_log(params: types.LogMessageParams) -> None:
            log.debug("server log: %s", params.message)

    @property
    def pid(self) -> int:
        assert self._server is not None  # set by start_io
        return self._server.pid

    async def wait_output(
        self, predicate: Any, within: float, *, since: int = 0
    ) -> tuple[float, Any]:
        """Wait for an output notification (from index ``since``) matching ``predicate``."""
        async with asyncio.timeout(within), self.output_changed:
            while True:
                for arrived, params in self.outputs[since:]:
                    if predicate(params):
                        return arrived, params
                await self.output_changed.wait()

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.as_uri()
        self.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1,
                    text=path.read_text() if text is None else text,
                )
            )
        )  # fmt: skip
        return uri

    async def complete(self, uri: str, line: int, col: int) -> tuple[float, list[str]]:
        started = time.perf_counter()
        result = await self.text_document_completion_async(
            types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=line, character=col),
            )
        )
        elapsed = time.perf_counter() - started
        items = result.items if isinstance(result, types.CompletionList) else (result or [])
        self.completion_sources.update(item.detail or "" for item in items)
        return elapsed, [item.label for item in items]

    async def command(self, name: str, *arguments: Any) -> Any:
        return await self.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(arguments))
        )


CAPABILITIES = types.ClientCapabilities(
    window=types.WindowClientCapabilities(work_done_progress=True),
    workspace=types.WorkspaceClientCapabilities(configuration=True, workspace_folders=True),
    text_document=types.TextDocumentClientCapabilities(
        completion=types.CompletionClientCapabilities(
            completion_item=types.ClientCompletionItemOptions(snippet_support=False)
        ),
        synchronization=types.TextDocumentSyncClientCapabilities(did_save=True),
    ),
)


@asynccontextmanager
async def lsp_server(
    argv: list[str], *, workspace: Path, log_file: Path, env: dict[str, str] | None = None,
    init_options: Any = None,
) -> AsyncIterator[BenchClient]:  # fmt: skip
    """Start a language server on stdio, initialize it on ``workspace``; shut it down on exit."""
    client = BenchClient()
    shell = f"exec {shlex.join(argv)} 2>>{shlex.quote(str(log_file))}"
    await client.start_io(
        "/bin/sh", "-c", shell, cwd=str(workspace), env=env, start_new_session=True
    )
    try:
        await client.initialize_async(
            types.InitializeParams(
                process_id=None,
                root_uri=workspace.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="bench")],
                capabilities=CAPABILITIES,
                initialization_options=init_options,
            )
        )
        client.initialized_sent = time.perf_counter()
        client.initialized(types.InitializedParams())
        yield client
    finally:
        await _stop(client)


async def _stop(client: BenchClient) -> None:
    process = client._server
    try:
        async with asyncio.timeout(STOP_TIMEOUT):
            await client.shutdown_async(None)
            client.exit(None)
            if process is not None:
                await process.wait()
    except (TimeoutError, RuntimeError, ConnectionError) as error:
        log.warning("language server did not stop cleanly (%r): killing its group", error)
        if process is not None and process.returncode is None:
            os.killpg(process.pid, signal.SIGKILL)  # its own session: kernels included
            await process.wait()
    finally:
        await client.stop()


def bridge_argv() -> list[str]:
    return [str(VENV_BIN / "bai-bridge"), "lsp"]


def jedi_argv() -> list[str]:
    return [str(VENV_BIN / "jedi-language-server")]
