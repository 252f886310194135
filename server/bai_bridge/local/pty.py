"""A session's terminal: a real pseudo-terminal (`Terminal`) and its WebSocket (§5.2)."""

from __future__ import annotations

from bai_bridge.local.pty_output import TerminalOutput
from bai_bridge.local.pty_stream import serve_pty
from bai_bridge.local.pty_terminal import Terminal, TerminalClosed

__all__ = ["Terminal", "TerminalClosed", "TerminalOutput", "serve_pty"]
