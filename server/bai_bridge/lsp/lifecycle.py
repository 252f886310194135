"""Initialize, configure, start the session ahead of need, shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from lsprotocol import types

from bai_bridge.api import APIConfig, APISession

from . import folders as folders_feature
from . import protocol, session_packages_feature, sync, watch
from .completion_engine import CompletionEngine
from .config import CONFIG_SECTION, BridgeOptions, default_session_name, parse_options
from .mirror import NamespaceMirror
from .package_cache import PackageCache, default_root
from .resources import ResourceWatch
from .run_place import KernelPlace
from .server import BridgeServer
from .services import Services
from .session import SessionManager
from .session_packages import SessionPackages, limits_of
from .start_settings import difference_notice, session_differences, settings_at_start

__all__ = ["register"]

log = logging.getLogger(__name__)
FLUSH_TIMEOUT = 5.0  # seconds a shutdown waits for sync's records (a WAN: a few round trips)


def register(server: BridgeServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: BridgeServer, params: types.InitializeParams) -> None:
        ls.init_options = params.initialization_options

    @server.feature(types.INITIALIZED)
    async def initialized(ls: BridgeServer, params: types.InitializedParams) -> None:
        await start(ls)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def changed(ls: BridgeServer, params: types.DidChangeConfigurationParams) -> None:
        apply_options(ls, await _settings(ls))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def edited(ls: BridgeServer, params: types.DidChangeTextDocumentParams) -> None:
        uri = params.text_document.uri
        moved = ls.diagnostics.edit(uri, params.content_changes)
        if moved is not None:
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=moved)
            )
        # Someone is typing: load jedi now, while they type, so that the first completion the
        # session cannot answer does not wait for jedi's cold start.
        services = ls.services_now()
        if services is not None and services.completion.claim_warm_up():
            ls.tasks.spawn(services.completion.warm_up(), "jedi-warm-up")
        session_packages_feature.buffer_changed(ls, uri)

    @server.feature(types.SHUTDOWN)
    async def shutdown(ls: BridgeServer, params: None) -> None:
        await stop(ls)


def apply_options(ls: BridgeServer, options: BridgeOptions) -> None:
    """New settings take effect for what comes next (a new session uses the new image)."""
    ls.options = options
    services = ls.services_now()
    if services is None:
        return
    services.sessions.options = options
    for folder in services.folders:
        folder.service.options = options
    services.completion.timeout = options.completion_timeout


async def _client_settings(ls: BridgeServer) -> list[Any]:
    """initializationOptions, then workspace/configuration's ``baiBridge`` section."""
    sources: list[Any] = [ls.init_options]
    workspace = ls.client_capabilities.workspace
    if workspace is not None and workspace.configuration:
        try:
            items = [types.ConfigurationItem(section=CONFIG_SECTION)]
            result = await ls.workspace_configuration_async(types.ConfigurationParams(items=items))
            sources.extend(result or [])
        except Exception as e:  # a client that fails this request still gets a server
            log.warning("workspace/configuration failed: %s", e)
    return sources


def _report(ls: BridgeServer, problems: list[str]) -> None:
    """Each problem is shown once, not again on every settings change."""
    problems = [p for p in problems if p not in ls.reported_problems]
    ls.reported_problems.update(problems)
    if problems:
        ls.tell(
            "bai-bridge: some settings are invalid and their defaults are used: "
            + "; ".join(problems),
            types.MessageType.Warning,
        )


async def start(ls: BridgeServer) -> None:
    try:
        await _start(ls)
    finally:
        ls.started.set()  # commands waiting for the start go on (and say if it failed)


async def _start(ls: BridgeServer) -> None:
    started_with = settings_at_start(ls.init_options)
    ls.options = started_with or await _settings(ls)
    sessions = await _start_session(ls)
    try:
        if started_with is not None:
            # Asked once the session's create is on its way: the answer (a round trip to the
            # editor) decides everything set up from here on, not what the create sent.
            ls.options = await _settings(ls)
            if sessions is not None:
                _settle_session(ls, sessions, started_with)
        if sessions is not None:
            _set_up(ls, sessions, ls.options)
    finally:
        if sessions is not None:
            sessions.listening.set()


async def _settings(ls: BridgeServer) -> BridgeOptions:
    options, problems = parse_options(*await _client_settings(ls))
    _report(ls, problems)
    return options


async def _start_session(ls: BridgeServer) -> SessionManager | None:
    """The connection and the session's create, sent now; None if they cannot be (said)."""
    if ls.startup_problem:
        ls.tell(f"bai-bridge: {ls.startup_problem}. Restart the language server to retry.")
        return None
    try:
        config = _api_config(ls)
    except Exception as e:
        ls.fail("reading the connection settings", e)
        return None
    early = ls.early_connection.take(config) if ls.early_connection else None
    api = early or APISession(config)
    # Negotiation failures are logged; the first real call reports. The session's create
    # does not wait for it: at a distance, `GET /` on a new connection costs two round trips.
    await api.open(wait_for_version=False)
    sessions = _session_manager(ls, api, ls.options)
    # The session's create goes out now, its connection opening while the rest is set up (5
    # to 15 ms); a session ready before the listeners are attached is announced once they are.
    sessions.listening.clear()
    ls.tasks.spawn(_warm_up(sessions, ls), "session-start")
    await asyncio.sleep(0)
    return sessions


def _settle_session(ls: BridgeServer, sessions: SessionManager, started: BridgeOptions) -> None:
    """The answer came after the create: new sessions follow it, the one started stays."""
    if started.image != ls.options.image and sessions.attached_image is None:
        # What the session runs (its status, a re-create after it ends), as for one attached.
        sessions.attached_image = started.image
    sessions.options = ls.options
    changed = session_differences(started, ls.options)
    if changed:
        ls.tell(f"bai-bridge: {difference_notice(changed)}.", types.MessageType.Warning)


def _set_up(ls: BridgeServer, sessions: SessionManager, options: BridgeOptions) -> None:
    """Everything but the session: the mirror, completion, sync, the session's packages."""
    mirror = NamespaceMirror(sessions, ls.tasks)
    if options.namespace_mirror:  # off, it stays empty and never asks the kernel
        mirror.attach()
    ResourceWatch(sessions, ls.tasks).attach()
    sessions.on_ready.append(lambda kernel, reason: _forget_diagnostics(ls, reason))
    completion = CompletionEngine(sessions, mirror, options.completion_timeout)
    packages = _packages(ls, sessions, options) if options.session_environment else None
    folders = sync.attach(ls, sessions)
    place = KernelPlace(folders, lambda text: ls.tell(text, types.MessageType.Warning))
    place.attach(sessions)
    services = Services(sessions.api, sessions, mirror, completion, folders, packages, place)
    ls.set_up(services)
    if packages is not None:
        packages.attach()
    folders_feature.tell_places(ls, services)
    ls.tasks.spawn(watch.start_watching(ls), "watch-files")


def _session_manager(ls: BridgeServer, api: APISession, options: BridgeOptions) -> SessionManager:
    name = options.session_name or default_session_name(ls.root)
    sessions = SessionManager(api, options, name, ls.tasks, lambda s: _push_status(ls, s))
    # The first action after a pause needs no new connection; a failed keep-warm request
    # is a drop noticed while idle.
    api.keep_warm(sessions.suspect)
    sessions.attach_target = options.attach_session or None
    sessions.on_notice = lambda text: ls.tell(f"bai-bridge: {text}.", types.MessageType.Info)
    return sessions


def _packages(
    ls: BridgeServer, sessions: SessionManager, options: BridgeOptions
) -> SessionPackages:
    limits = limits_of(
        options.package_max_files, options.package_max_mib, options.package_cache_mib
    )
    cache = PackageCache(default_root(), limits)
    notify = lambda paths: session_packages_feature.notify_paths(ls, paths)  # noqa: E731
    return SessionPackages(sessions, ls.tasks, cache, notify)


def _api_config(ls: BridgeServer) -> APIConfig:
    config = ls.api_config if ls.api_config is not None else APIConfig.from_env()
    if ls.options.endpoint and ls.options.endpoint != str(config.endpoint):
        config = APIConfig.from_env(endpoint=ls.options.endpoint)
    return config


async def _warm_up(sessions: SessionManager, ls: BridgeServer) -> None:
    """Start (or reuse) the session ahead of need: kernels take a while to start."""
    try:
        await sessions.kernel()
    except Exception as e:
        ls.fail("starting the session", e)


async def _forget_diagnostics(ls: BridgeServer, reason: str) -> None:
    """A restarted, new or other session has none of the state a traceback came from."""
    if reason in ("restarted", "created", "attached"):
        for uri in ls.diagnostics.clear():
            ls.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(uri=uri, diagnostics=[])
            )


def _push_status(ls: BridgeServer, status: protocol.SessionStatus) -> None:
    ls.protocol.notify(protocol.SESSION_STATUS, status)


async def stop(ls: BridgeServer) -> None:
    """Stop background work and close the connection; the session itself stays for reuse."""
    services = ls.services_now()
    if services is not None:  # what sync still writes down lets a restart trust the session
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                await asyncio.gather(*(f.service.flush() for f in services.folders))
        except TimeoutError:
            log.warning("sync's last records were not written within %s s", FLUSH_TIMEOUT)
        await services.sessions.close()
    await ls.tasks.cancel_all()
    if services is not None:
        await services.api.close()
