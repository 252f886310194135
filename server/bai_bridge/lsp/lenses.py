"""Code lenses "Run Cell" and "Run Above" on every `# %%` cell."""

from __future__ import annotations

from lsprotocol import types

from . import protocol
from .cells import find_cells, has_cell_markers
from .documents import open_document
from .server import BridgeServer

__all__ = ["register"]


def register(server: BridgeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(ls: BridgeServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        doc = open_document(ls, params.text_document.uri)  # never read from disk
        if doc is None or not has_cell_markers(doc.source):
            return []
        cells = find_cells(doc.source)
        return [lens for i, cell in enumerate(cells) for lens in _lenses(doc.uri, cell.start, i)]


def _lenses(uri: str, line: int, index: int) -> list[types.CodeLens]:
    where = types.Range(types.Position(line, 0), types.Position(line, 0))
    args = [{"uri": uri, "line": line}]
    lenses = [
        types.CodeLens(where, types.Command("Run Cell", protocol.RUN_CELL, arguments=args)),
    ]
    if index > 0:
        lenses.append(
            types.CodeLens(
                where, types.Command("Run Above", protocol.RUN_CELLS_ABOVE, arguments=args)
            )
        )
    return lenses
