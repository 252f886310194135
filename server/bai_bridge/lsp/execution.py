"""Run commands: selection/line, cell, cells above (a whole file: `run_file`)."""

from __future__ import annotations

import urllib.parse
from collections.abc import AsyncIterator

from lsprotocol import types

from bai_bridge.api import ExecutionResult, Kernel

from . import protocol
from .cells import Snippet, cell_at, cell_snippet, cells_above, find_cells, selection_snippet
from .commands import command
from .documents import NotReadable, run_target
from .runs import RunHooks, RunSpec, Starter, run
from .server import BridgeServer
from .sync import file_folder, relative_path

__all__ = ["guarded", "register", "run_source"]


def register(server: BridgeServer) -> None:
    @command(server, protocol.RUN_SELECTION, protocol.RunSelectionArgs)
    async def run_selection(
        ls: BridgeServer, args: protocol.RunSelectionArgs
    ) -> protocol.RunResult | None:
        if (text := await run_source(ls, args.uri)) is None:
            return None
        r = args.range
        snippet = selection_snippet(
            text, (r.start.line, r.start.character), (r.end.line, r.end.character)
        )
        label = f"line {snippet.first_line + 1}"
        return await _run_snippet(ls, args.uri, snippet, label, stream=False)

    @command(server, protocol.RUN_CELL, protocol.RunCellArgs)
    async def run_cell(ls: BridgeServer, args: protocol.RunCellArgs) -> protocol.RunResult | None:
        if (text := await run_source(ls, args.uri)) is None:
            return None
        cell = cell_at(find_cells(text), args.line)
        snippet = cell_snippet(text, [cell] if cell else [])
        label = f"cell at line {cell.start + 1}" if cell else "cell"
        return await _run_snippet(ls, args.uri, snippet, label, stream=True)

    @command(server, protocol.RUN_CELLS_ABOVE, protocol.RunCellArgs)
    async def run_above(ls: BridgeServer, args: protocol.RunCellArgs) -> protocol.RunResult | None:
        if (text := await run_source(ls, args.uri)) is None:
            return None
        snippet = cell_snippet(text, cells_above(find_cells(text), args.line))
        return await _run_snippet(ls, args.uri, snippet, "cells above", stream=True)


async def run_source(ls: BridgeServer, uri: str) -> str | None:
    """What to run from (documents.run_target's rule), or None once the person is told."""
    try:
        return await run_target(ls, uri)
    except NotReadable as e:
        ls.tell(f"bai-bridge: {e}.")
        return None


async def _run_snippet(
    ls: BridgeServer, uri: str, snippet: Snippet | None, label: str, *, stream: bool
) -> protocol.RunResult | None:
    """``stream``: over the execute WebSocket, output every 0.2 s instead of every 2 s, for
    cells (where long runs live); a line or selection keeps the HTTP loop, whose kept-alive
    connection makes a short run cheapest (a WebSocket is a new connection per run)."""
    if snippet is None or not snippet.code.strip():
        ls.tell("bai-bridge: nothing to run there.", types.MessageType.Info)
        return None

    def start(kernel: Kernel, hooks: RunHooks) -> AsyncIterator[ExecutionResult]:
        return kernel.run(
            snippet.code, on_input=hooks.on_input, on_drop=hooks.on_drop, stream=stream
        )

    code_lines = snippet.code.count("\n") or 1
    file = _file_name(ls, uri)
    placed = _in_place(ls, uri, start)
    spec = RunSpec(uri, f"{file}, {label}", placed, snippet.first_line, code_lines, file=file)
    return await guarded(ls, spec)


def _in_place(ls: BridgeServer, uri: str, start: Starter) -> Starter:
    """``start`` run at the place of the file's workspace folder (run_place.py)."""
    services = ls.services_now()
    if services is None:
        return start  # not started: the run says why
    found = file_folder(ls, uri)
    return services.place.starter(found[0].place if found else None, start)


def _file_name(ls: BridgeServer, uri: str) -> str:
    """The file as the person knows it: workspace-relative, else its name (`Untitled-1`)."""
    tail = uri.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return relative_path(ls, uri) or urllib.parse.unquote(tail)


async def guarded(ls: BridgeServer, spec: RunSpec) -> protocol.RunResult | None:
    """A run whose failure (not the code's: the backend's) becomes a message."""
    try:
        return await run(ls, spec)
    except Exception as e:
        ls.fail(f"running {spec.label}", e)
        return None
