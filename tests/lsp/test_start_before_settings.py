"""A client that sends its settings as initializationOptions has its session's create sent at
`initialized`, before the editor answers workspace/configuration (a round trip to the editor
that used to come first). An answer that differs in what the session was made with leaves
that one session in place, is said, and is what a new session is made with. A client with no
``baiBridge`` section there still has its session made with the answer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import attrs
import pytest
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

from bai_bridge.lsp import protocol
from bai_bridge.lsp.config import DEFAULT_IMAGE
from serverkit import StandaloneServer
from wanproxy import SeenRequest, WanProxy

from .lsp_harness import (
    Recorder,
    capabilities,
    command,
    field,
    initialize,
    open_doc,
    run_selection,
    server_config,
    stop_server,
    uri_of,
)
from .test_standalone_backend import Backend

QUIET = {"syncOnStart": False, "namespaceMirror": False, "sessionEnvironment": False}
CREATE_PATHS = ("/session", "/kernel", "/session/create", "/kernel/create")
WAIT = 30.0  # far more than a create on a loaded machine; the old start never sent it
ANSWERED_IMAGE = "python:3.12-from-the-answer"
SHOW_ENV = "import os; print('env is', os.environ.get('BAI_START_SETTING', 'unset'))\n"


def is_create(request: SeenRequest) -> bool:
    return request.method == "POST" and request.target.split("?")[0] in CREATE_PATHS


class HeldSettings:
    """The editor's side of workspace/configuration: each request is recorded and answered
    with ``answer`` only once ``release`` is set."""

    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer
        self.asked = asyncio.Event()
        self.release = asyncio.Event()
        self.order: list[str] = []  # "asked", "create" (seen by the proxy), "answered"

    async def held_answer(self, params: types.ConfigurationParams) -> list[Any]:
        self.order.append("asked")
        self.asked.set()
        await self.release.wait()
        self.order.append("answered")
        return [self.answer if item.section == "baiBridge" else None for item in params.items]

    def client(self) -> LanguageClient:
        client = LanguageClient(converter_factory=default_converter)
        others = {
            method: handler
            for method, handler in DEFAULT_CLIENT_FEATURES.items()
            if method != types.WORKSPACE_CONFIGURATION
        }
        register_lsp_features(client, others)

        @client.feature(types.WORKSPACE_CONFIGURATION)
        async def configuration(_: LanguageClient, params: types.ConfigurationParams) -> Any:
            return await self.held_answer(params)

        return client


@pytest.fixture
def backend(local_server_process: StandaloneServer, profile: str) -> Backend:
    return Backend(local_server_process, profile)


async def start_held(
    backend: Backend, proxy: WanProxy, settings: HeldSettings
) -> tuple[LanguageClient, asyncio.Event]:
    """A language server on ``proxy``, its client answering settings as ``settings`` says;
    the event is set when the proxy sees the session's create."""
    created = asyncio.Event()

    def seen(request: SeenRequest) -> None:
        if is_create(request):
            settings.order.append("create")
            created.set()

    proxy.on_request = seen
    env = {**backend.env, "BACKEND_ENDPOINT": proxy.address}
    config = attrs.evolve(server_config(backend.profile, env), client_factory=settings.client)
    client = await config.start()
    assert isinstance(client, LanguageClient)
    return client, created


async def started_before_the_answer(
    client: LanguageClient, root: Path, options: dict[str, Any], settings: HeldSettings,
    created: asyncio.Event,
) -> Recorder:  # fmt: skip
    """Initialize; the create must reach the backend while the settings are still held."""
    bridge = await initialize(client, root, options, wait=False)
    await asyncio.wait_for(settings.asked.wait(), WAIT)
    try:
        await asyncio.wait_for(created.wait(), WAIT)
    except TimeoutError:
        raise AssertionError(f"no create while the settings were held: {settings.order}") from None
    settings.release.set()
    await bridge.wait_for("the session", lambda: bridge.state() == "running")
    # The create reached the backend while the answer was held (the question may go first).
    assert sorted(settings.order[:2]) == ["asked", "create"], settings.order
    assert settings.order[2] == "answered", settings.order
    return bridge


def creates(proxy: WanProxy) -> int:
    return len([r for r in proxy.requests if is_create(r)])


async def test_the_create_goes_out_before_the_settings_answer(
    backend: Backend, proxy: WanProxy, profile: str, tmp_path: Path
) -> None:
    name = f"before-answer-{profile}"
    options = {**QUIET, "sessionName": name}
    settings = HeldSettings(options)  # the same settings: an editor that did not change them
    client, created = await start_held(backend, proxy, settings)
    try:
        bridge = await started_before_the_answer(client, tmp_path, options, settings, created)
        uri = open_doc(client, tmp_path / "a.py", "print(6 * 7)\n")
        done = await run_selection(client, uri, 0)
        assert field(done, "status") == "finished", (bridge.statuses, client.messages)
        assert "42" in bridge.text(field(done, "runId"))
        assert bridge.statuses[-1]["sessionName"] == name
        assert creates(proxy) == 1
        assert not [m for m in client.messages if "settings" in m.message], client.messages
    finally:
        await stop_server(client)
        await client.stop()


async def test_a_differing_answer_keeps_the_session_and_makes_the_next_one(
    backend: Backend, proxy: WanProxy, profile: str, tmp_path: Path
) -> None:
    started_name, answered_name = f"from-init-{profile}", f"from-answer-{profile}"
    options = {**QUIET, "sessionName": started_name}
    answer = {
        **QUIET,
        "sessionName": answered_name,
        "image": ANSWERED_IMAGE,
        "envs": {"BAI_START_SETTING": "from the answer"},
    }
    settings = HeldSettings(answer)
    client, created = await start_held(backend, proxy, settings)
    try:
        bridge = await started_before_the_answer(client, tmp_path, options, settings, created)
        said = await bridge.wait_for(
            "the notice",
            lambda: [m.message for m in client.messages if "sessionName, image, envs" in m.message],
        )
        assert "that session stays" in said[0]
        uri = open_doc(client, tmp_path / "env.py", SHOW_ENV)
        done = await run_selection(client, uri, 0)
        # The one session started, made with the initializationOptions.
        assert "env is unset" in bridge.text(field(done, "runId")), client.messages
        assert bridge.statuses[-1]["sessionName"] == started_name
        assert bridge.statuses[-1]["image"] == DEFAULT_IMAGE
        assert creates(proxy) == 1
        listing = await command(client, protocol.LIST_SESSIONS)
        names = [field(s, "name") for s in field(listing, "sessions")]
        assert names == [started_name]

        # A new session follows the answer: its name and its environment.
        fresh = await command(client, protocol.NEW_SESSION, {"destroyCurrent": True})
        assert field(fresh, "sessionName").startswith(answered_name)
        done = await run_selection(client, uri, 0)
        assert "env is from the answer" in bridge.text(field(done, "runId")), client.messages
        assert bridge.statuses[-1]["image"] == ANSWERED_IMAGE
        assert creates(proxy) == 2
    finally:
        await stop_server(client)
        await client.stop()


async def test_settings_only_in_the_answer_are_what_the_session_starts_with(
    backend: Backend, proxy: WanProxy, profile: str, tmp_path: Path
) -> None:
    name = f"answer-only-{profile}"
    settings = HeldSettings({**QUIET, "sessionName": name})
    settings.release.set()
    client, _ = await start_held(backend, proxy, settings)
    try:
        bridge = Recorder(client)
        uri = uri_of(tmp_path)
        await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities(),
                root_uri=uri,
                workspace_folders=[types.WorkspaceFolder(uri=uri, name=tmp_path.name)],
            )  # no initializationOptions: the session waits for the editor's settings
        )
        await bridge.wait_for("the session", lambda: bridge.state() == "running")
        assert bridge.statuses[-1]["sessionName"] == name
        assert settings.order == ["asked", "answered", "create"]
        assert creates(proxy) == 1
    finally:
        await stop_server(client)
        await client.stop()
