"""`baiBridge/variables`: the namespace mirror's top-level names, for a Variables view (VS Code)
or a custom request (Neovim). Answered from the mirror alone: at once, during runs too."""

from __future__ import annotations

from typing import Any

from . import protocol
from .mirror import NamespaceMirror, summary
from .server import BridgeServer

__all__ = ["register", "variables"]


def variables(mirror: NamespaceMirror) -> protocol.VariablesResult:
    found = [
        protocol.Variable(
            name,
            entry.kind,
            entry.type,
            summary(entry),
            entry.repr,
            entry.len,
            entry.shape,
            entry.dtype,
            entry.columns,
            entry.doc,
        )
        for name, entry in sorted(mirror.entries.items())
    ]
    return protocol.VariablesResult(found, mirror.truncated, mirror.generation)


def register(server: BridgeServer) -> None:
    @server.feature(protocol.VARIABLES)
    def on_variables(ls: BridgeServer, params: Any) -> protocol.VariablesResult:
        if ls.mirror is None:
            return protocol.VariablesResult([], False, None)
        return variables(ls.mirror)
