"""LSP side of the session's packages: buffers' imports in, the cache's paths out, and the
command that clears the cache."""

from __future__ import annotations

import asyncio

from lsprotocol import types

from . import protocol
from .commands import command
from .documents import open_document
from .server import BridgeServer
from .session_packages import PackagePaths, SessionPackages

__all__ = ["notify_paths", "register"]

SCAN_DELAY = 0.3  # s after the last edit before a buffer's imports are read again


def notify_paths(ls: BridgeServer, paths: PackagePaths) -> None:
    if (services := ls.services_now()) is not None:
        services.completion.extra_paths = tuple(paths.paths)
    ls.protocol.notify(protocol.SESSION_ENVIRONMENT, paths)


def _scan(ls: BridgeServer, uri: str) -> None:
    packages = _packages(ls)
    doc = open_document(ls, uri)
    if packages is not None and doc is not None:
        packages.buffer_imports(doc.source)


def _packages(ls: BridgeServer) -> SessionPackages | None:
    services = ls.services_now()
    return services.packages if services is not None else None


def buffer_changed(ls: BridgeServer, uri: str) -> None:
    """Read the buffer's imports once the person pauses, never on the keystroke itself."""
    if _packages(ls) is None:
        return
    pending = ls.import_scans.pop(uri, None)
    if pending is not None:
        pending.cancel()
    loop = asyncio.get_running_loop()
    ls.import_scans[uri] = loop.call_later(SCAN_DELAY, lambda: _scan_later(ls, uri))


def _scan_later(ls: BridgeServer, uri: str) -> None:
    ls.import_scans.pop(uri, None)
    _scan(ls, uri)


def register(server: BridgeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def opened(ls: BridgeServer, params: types.DidOpenTextDocumentParams) -> None:
        _scan(ls, params.text_document.uri)

    @command(server, protocol.CLEAR_PACKAGE_CACHE)
    async def clear(ls: BridgeServer, _: None) -> int | None:
        await ls.until_started()
        packages = _packages(ls)
        if packages is None:
            return None
        try:
            removed = await packages.clear()
        except OSError as e:
            ls.fail("clearing the session package cache", e)
            return None
        ls.tell(f"bai-bridge: removed {removed} cached session packages.", types.MessageType.Info)
        return removed
