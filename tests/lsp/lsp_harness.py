"""Driving bai-bridge over stdio with pytest-lsp: start, initialize, record, wait."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pygls.uris import from_fs_path
from pytest_lsp import ClientServerConfig, LanguageClient

from bai_bridge.api import APIConfig
from bai_bridge.local.serve import RunningServer
from bai_bridge.lsp import protocol

WAIT = 60.0  # generous upper bound for kernel starts on a busy 2-core machine
# Every end-to-end test runs against both: nothing the bridge does may rely on what only the
# embedded profile offers (a kernel subshell answering complete() during a run).
PROFILES = ("embedded", "cluster")


def server_env(profile: str, env: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without BACKEND_*, with the embedded server's profile."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BACKEND_", "SORNA_"))}
    return {**base, "BAI_BRIDGE_PROFILE": profile, **(env or {})}


def server_config(profile: str, env: dict[str, str] | None = None) -> ClientServerConfig:
    return ClientServerConfig(
        server_command=[sys.executable, "-m", "bai_bridge", "lsp"],
        server_env=server_env(profile, env),
    )


def api_config_of(server: RunningServer) -> APIConfig:
    """A client config for ``server``; ``BACKEND_*`` of the shell running the tests ignored."""
    return APIConfig(
        endpoint=server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        env={},
    )


def uri_of(path: Path) -> str:
    uri = from_fs_path(str(path))
    assert uri is not None
    return uri


def _plain(value: Any) -> Any:
    """Custom notifications arrive as pygls objects; turn them into dicts and lists."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Recorder:
    """Everything the server pushed, with a way to wait for a condition on it."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.outputs: list[dict[str, Any]] = []
        self.statuses: list[dict[str, Any]] = []
        self.input_answers: list[str | None] = []
        self.input_prompts: list[dict[str, Any]] = []
        self.message_requests: list[types.ShowMessageRequestParams] = []
        self.message_answer: str | None = None
        self._changed = asyncio.Event()

        @client.feature(protocol.OUTPUT)
        def on_output(_: LanguageClient, params: Any) -> None:
            self.outputs.append(_plain(params))
            self.poke()

        @client.feature(protocol.SESSION_STATUS)
        def on_status(_: LanguageClient, params: Any) -> None:
            self.statuses.append(_plain(params))
            self.poke()

        @client.feature(protocol.INPUT_REQUEST)
        def on_input(_: LanguageClient, params: Any) -> Any:
            self.input_prompts.append(_plain(params))
            answer = self.input_answers.pop(0) if self.input_answers else None
            return None if answer is None else {"text": answer}

        @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        def on_request(
            _: LanguageClient, params: types.ShowMessageRequestParams
        ) -> types.MessageActionItem | None:
            self.message_requests.append(params)
            self.poke()
            return types.MessageActionItem(self.message_answer) if self.message_answer else None

    def poke(self) -> None:
        self._changed.set()

    async def wait_for(self, what: str, check: Callable[[], Any], limit: float = WAIT) -> Any:
        """Wait until ``check()`` is truthy; any message or diagnostic re-checks it."""
        deadline = time.monotonic() + limit
        while not (result := check()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            self._changed.clear()
            # diagnostics and messages are recorded by pytest-lsp itself: re-check now and then
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.25))
        return result

    def run_outputs(self, run_id: str) -> list[dict[str, Any]]:
        return [o for o in self.outputs if o.get("runId") == run_id]

    def text(self, run_id: str, kind: str = "stdout") -> str:
        return "".join(
            item["data"]
            for o in self.run_outputs(run_id)
            for item in o.get("items", [])
            if item["kind"] == kind
        )

    def state(self) -> str | None:
        return self.statuses[-1]["state"] if self.statuses else None


def capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        window=types.WindowClientCapabilities(
            work_done_progress=True, show_message=types.ShowMessageRequestClientCapabilities()
        ),
        workspace=types.WorkspaceClientCapabilities(configuration=True),
        text_document=types.TextDocumentClientCapabilities(
            completion=types.CompletionClientCapabilities(
                completion_item=types.ClientCompletionItemOptions(snippet_support=False)
            ),
            publish_diagnostics=types.PublishDiagnosticsClientCapabilities(),
        ),
    )


async def start_client(profile: str, env: dict[str, str] | None = None) -> LanguageClient:
    """A language server started outside pytest-lsp's fixture (stop it with `stop_server`)."""
    client = await server_config(profile, env).start()
    assert isinstance(client, LanguageClient)
    return client


async def initialize(
    client: LanguageClient,
    root: Path,
    options: dict[str, Any] | None = None,
    wait: bool = True,
    folders: Sequence[Path] = (),
) -> Recorder:
    """Initialize on ``root`` (and ``folders``, a multi-root workspace's other folders) and
    (``wait``) wait until the server's session is running."""
    recorder = Recorder(client)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities(),
            root_uri=uri_of(root),
            workspace_folders=[workspace_folder(r) for r in (root, *folders)],
            initialization_options={"baiBridge": options or {}},
        )
    )
    if wait:
        await recorder.wait_for("the session", lambda: recorder.state() == "running")
    return recorder


def workspace_folder(root: Path) -> types.WorkspaceFolder:
    return types.WorkspaceFolder(uri=uri_of(root), name=root.name)


def folder_with(factory: pytest.TempPathFactory, name: str, files: dict[str, str]) -> Path:
    """A new folder (``name``, made unique by pytest) holding ``files``: path → text."""
    root = factory.mktemp(name)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def open_doc(client: LanguageClient, path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    uri = uri_of(path)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)
        )
    )
    return uri


def change_doc(client: LanguageClient, uri: str, text: str, version: int) -> None:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )


async def command(client: LanguageClient, name: str, *args: Any) -> Any:
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=list(args))
    )


async def run_selection(client: LanguageClient, uri: str, line: int) -> Any:
    where = {"start": {"line": line, "character": 0}, "end": {"line": line, "character": 0}}
    return await command(client, protocol.RUN_SELECTION, {"uri": uri, "range": where})


async def run_cell(client: LanguageClient, uri: str, line: int) -> Any:
    return await command(client, protocol.RUN_CELL, {"uri": uri, "line": line})


async def complete(client: LanguageClient, uri: str, line: int, col: int) -> types.CompletionList:
    result = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=line, character=col),
        )
    )
    assert isinstance(result, types.CompletionList)
    return result


async def in_session(client: LanguageClient, bridge: Recorder, root: Path, code: str) -> Any:
    """What ``code`` (one line) prints as JSON, run from a probe file in ``root``: in that
    folder's place in the session (the work dir for the first folder)."""
    uri = open_doc(client, root / ".probe" / "probe.py", code + "\n")
    done = await run_selection(client, uri, 0)
    return json.loads(bridge.text(field(done, "runId")).strip().splitlines()[-1])


def field(obj: Any, name: str) -> Any:
    """A field of a command result, whether it came back as a dict or an object."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


async def stop_server(client: LanguageClient) -> None:
    """shutdown + exit; a server that was never initialized (a failed setup) is terminated,
    since pytest-lsp would otherwise wait for it forever."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(client.shutdown_session(), 30)
    process = client._server
    if process is not None and process.returncode is None:
        process.terminate()
