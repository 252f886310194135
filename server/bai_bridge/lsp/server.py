"""`create_server()`: a fresh bai-bridge language server with every feature registered.

The server object holds the per-connection state: the settings, the background tasks, and the
`Services` the start creates (the API session, the compute session, a sync per workspace
folder, the mirror); features reach it through the ``ls`` argument of their handlers.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from bai_bridge import __version__
from bai_bridge.api import APIConfig, BackendClientError

from .config import BridgeOptions
from .diagnostics import RunDiagnostics
from .jsonrpc import BridgeProtocol
from .messages import describe_error
from .session import NotStarted
from .tasks import BackgroundTasks

if TYPE_CHECKING:
    from .early_connection import EarlyConnection
    from .services import Services
    from .session import SessionManager

__all__ = ["STARTUP_WAIT", "BridgeServer", "create_server"]

log = logging.getLogger(__name__)
# How long a command that arrives right after `initialized` waits for the start it begins
# (settings round trip, version negotiation): a reachable server answers in well under 1 s.
STARTUP_WAIT = 30.0
NOT_STARTED = (
    f"the language server did not finish starting within {STARTUP_WAIT:.0f} s (did the "
    "client send 'initialized'?); retry in a moment"
)


class BridgeServer(LanguageServer):
    """The language server plus the state of one editor connection."""

    def __init__(self, api_config: APIConfig | None = None) -> None:
        super().__init__(
            "bai-bridge",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=BridgeProtocol,
        )
        self.api_config = api_config
        # Opened on BACKEND_* before `initialize` (launch.py); the start takes it if it fits.
        self.early_connection: EarlyConnection | None = None
        self.tasks = BackgroundTasks()
        self.options = BridgeOptions()
        self.diagnostics = RunDiagnostics()
        self.init_options: Any = None
        self.reported_problems: set[str] = set()
        self.startup_problem: str | None = None  # e.g. the embedded server did not start
        self._services: Services | None = None  # created by the start (lifecycle.py)
        self.import_scans: dict[str, asyncio.TimerHandle] = {}  # uri -> its pending scan
        self.started = asyncio.Event()  # set once that start is over, done or not

    @property
    def root(self) -> Path | None:
        """The first workspace folder (the one synced to the session's work dir, which names
        the default session), kept while folders come and go."""
        first = self._services.folders.first if self._services is not None else None
        if first is not None:
            return first.root
        folders = list(self.workspace.folders.values())
        uri = folders[0].uri if folders else self.workspace.root_uri
        path = to_fs_path(uri) if uri else None
        return Path(path) if path else None

    async def until_started(self) -> bool:
        """Wait (bounded) for the start `initialized` begins: a command or save in its first
        moments waits for it instead of failing or being dropped. False (and said) if it
        never came."""
        try:
            await asyncio.wait_for(self.started.wait(), STARTUP_WAIT)
        except TimeoutError:
            self.tell(f"bai-bridge: {NOT_STARTED}.")
            return False
        return True

    def set_up(self, services: Services) -> None:
        """What the start created (once, before ``started`` is set)."""
        self._services = services

    def services_now(self) -> Services | None:
        """The services if the start is over and made them; never waits (for the keystroke
        paths, and for stopping)."""
        return self._services

    async def services(self) -> Services:
        """The services, once the start is over; `NotStarted` says why there are none."""
        try:
            await asyncio.wait_for(self.started.wait(), STARTUP_WAIT)
        except TimeoutError:
            raise NotStarted(NOT_STARTED) from None
        if self._services is None:
            raise NotStarted(
                self.startup_problem or "the language server could not set up the connection"
            )
        return self._services

    async def started_services(self) -> Services | None:
        """The services for what may quietly do nothing without them (a save, a file
        event): None if the start failed (it said why) or never came (said here)."""
        return self._services if await self.until_started() else None

    async def session_manager(self) -> SessionManager:
        return (await self.services()).sessions

    def fail(self, action: str, error: BaseException) -> None:
        """A failed action: tell the person; a lost connection starts the reconnect loop."""
        if isinstance(error, BackendClientError) and self._services is not None:
            self._services.sessions.connection_lost(error)
        self.tell(describe_error(action, error))

    async def ask(self, message: str, actions: list[str]) -> str | None:
        """window/showMessageRequest: the title of the action chosen, or None (dismissed, or
        a client that cannot ask: then nothing is decided for the person)."""
        params = types.ShowMessageRequestParams(
            type=types.MessageType.Warning,
            message=message,
            actions=[types.MessageActionItem(title) for title in actions],
        )
        try:
            answer = await self.window_show_message_request_async(params)
        except Exception as e:
            log.info("question not answered: %s", e)
            return None
        return answer.title if answer is not None and answer.title in actions else None

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        """window/showMessage (and the log): how every failure reaches the person."""
        log.log(logging.ERROR if kind == types.MessageType.Error else logging.INFO, "%s", message)
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))


def create_server(api_config: APIConfig | None = None) -> BridgeServer:
    """A new server; ``api_config`` None means: read ``BACKEND_*`` at initialization."""
    from . import (
        attach,
        completion,
        completion_resolve,
        execution,
        files,
        folders,
        hover,
        lenses,
        lifecycle,
        run_file,
        session_commands,
        session_packages_feature,
        signature_help,
        sync,
        terminal,
        variables,
        watch,
    )

    server = BridgeServer(api_config)
    features = (
        lifecycle,
        session_commands,
        attach,
        completion,
        completion_resolve,
        hover,
        signature_help,
        execution,
        run_file,
        lenses,
        sync,
        watch,
        folders,
        files,
        terminal,
        variables,
        session_packages_feature,
    )
    for feature in features:
        feature.register(server)
    return server
