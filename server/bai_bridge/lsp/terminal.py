"""Terminal hand-off: the PTY WebSocket URL and headers signed now, for the editor to use."""

from __future__ import annotations

from bai_bridge.api import Kernel

from . import protocol
from .commands import command
from .server import BridgeServer

__all__ = ["register"]

# The server accepts a signed Date within ±15 minutes (protocol doc §2.2); leave a margin.
SIGNATURE_LIFETIME = 14 * 60.0


def register(server: BridgeServer) -> None:
    @command(server, protocol.TERMINAL_DESCRIPTOR)
    async def terminal_descriptor(ls: BridgeServer, _: None) -> protocol.TerminalDescriptor | None:
        try:
            sessions = await ls.session_manager()
            kernel = await sessions.kernel()
        except Exception as e:
            ls.fail("opening the session's terminal", e)
            return None
        return describe(kernel, sessions.session_name)


def describe(kernel: Kernel, session_name: str) -> protocol.TerminalDescriptor:
    api = kernel.session
    url = api.url(kernel.stream_path("pty"), kernel.request_query() or None)
    headers = api.signed_headers("GET", url, "application/octet-stream", send_content_type=False)
    ws_url = url.with_scheme("wss" if url.scheme == "https" else "ws")
    return protocol.TerminalDescriptor(str(ws_url), headers, SIGNATURE_LIFETIME, session_name)
