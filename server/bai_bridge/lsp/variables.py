"""`baiBridge/variables`: the namespace mirror's top-level names, for a Variables view (VS Code)
or a custom request (Neovim). Answered from the mirror alone, never asking the kernel: at once
during runs; after a run's end, once that run's snapshot is in (bounded by SNAPSHOT_WAIT)."""

from __future__ import annotations

from typing import Any

from . import protocol
from .mirror import NamespaceMirror, summary
from .server import BridgeServer

__all__ = ["SNAPSHOT_WAIT", "register", "variables"]

# A snapshot takes about 0.3 s of kernel time; one queued behind another client's cell is not
# waited for past this: the view shows the last snapshot and refreshes after the next run.
SNAPSHOT_WAIT = 2.0


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
    async def on_variables(ls: BridgeServer, params: Any) -> protocol.VariablesResult:
        services = ls.services_now()
        if services is None:
            return protocol.VariablesResult([], False, None)
        await services.mirror.current(SNAPSHOT_WAIT)
        return variables(services.mirror)
