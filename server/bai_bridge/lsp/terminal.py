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
    @command(server, protocol.TERMINAL_DESCRIPTOR, protocol.TerminalDescriptorArgs, required=False)
    async def terminal_descriptor(
        ls: BridgeServer, args: protocol.TerminalDescriptorArgs | None
    ) -> protocol.TerminalDescriptor | None:
        try:
            sessions = await ls.session_manager()
            kernel = await sessions.kernel()
        except Exception as e:
            ls.fail("opening the session's terminal", e)
            return None
        return describe(kernel, sessions.session_name, None if args is None else args.since)


def describe(
    kernel: Kernel, session_name: str, since: int | None = None
) -> protocol.TerminalDescriptor:
    """``since``: ask for the output after that many bytes (a manager ignores the parameter
    and keeps no scrollback; the embedded server replays what it kept)."""
    api = kernel.session
    query = kernel.request_query() if since is None else kernel.request_query(since=str(since))
    url = api.url(kernel.stream_path("pty"), query or None)
    headers = api.signed_headers("GET", url, "application/octet-stream", send_content_type=False)
    ws_url = url.with_scheme("wss" if url.scheme == "https" else "ws")
    return protocol.TerminalDescriptor(str(ws_url), headers, SIGNATURE_LIFETIME, session_name)
