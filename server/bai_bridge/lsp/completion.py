"""textDocument/completion: the engine's candidates as items editing the word being typed."""

from __future__ import annotations

from typing import Any

import attrs
from cattrs import Converter
from lsprotocol import types
from pygls.uris import to_fs_path

from .completion_engine import CompletionRequest
from .documents import open_document
from .server import BridgeServer
from .static_completion import Candidate, word_before
from .text_window import window

__all__ = ["CompletionReply", "register", "unstructure_reply"]

# What completion sees of a buffer: whole lines around the cursor, this many characters
# before and after its line. jedi and the session's complete() then cost the same on a 50 MB
# buffer as on a small one (they took 8-12 s and up to 900 MB on the whole of it).
BEFORE = 50_000
AFTER = 10_000
MAX_LINE = 100_000  # a longer line is not code a person completes in (a minified bundle)

_KINDS = {
    "module": types.CompletionItemKind.Module,
    "class": types.CompletionItemKind.Class,
    "function": types.CompletionItemKind.Function,
    "instance": types.CompletionItemKind.Variable,
    "statement": types.CompletionItemKind.Variable,
    "keyword": types.CompletionItemKind.Keyword,
    "param": types.CompletionItemKind.Variable,
    "property": types.CompletionItemKind.Property,
    "path": types.CompletionItemKind.File,
}


@attrs.frozen
class CompletionReply:
    """A CompletionList whose items all replace ``edit_range`` with their label.

    Written to the client by `unstructure_reply`, not as lsprotocol items: building and
    converting a CompletionItem costs about 10 µs, which `df.` (200 names) turned into 2-3 ms
    on the event loop per keystroke; the JSON is the same.
    """

    incomplete: bool
    candidates: list[Candidate]
    edit_range: types.Range


def unstructure_reply(reply: CompletionReply, converter: Converter) -> dict[str, Any]:
    """The LSP JSON of ``reply``, field for field what lsprotocol's converter writes."""
    edit_range = converter.unstructure(reply.edit_range)
    variable = types.CompletionItemKind.Variable
    items = []
    for i, c in enumerate(reply.candidates):
        item = {
            "label": c.label,
            "kind": _KINDS.get(c.kind or "", variable).value,
            "detail": c.detail or f"bai-bridge: {c.source}",
            "sortText": f"{i:05d}",
            "textEdit": {"range": edit_range, "newText": c.label},
        }
        if c.path is not None:
            item["data"] = {"path": c.path}  # completionItem/resolve adds its doc
        items.append(item)
    return {"isIncomplete": reply.incomplete, "items": items}


def register(server: BridgeServer) -> None:
    converter = server.protocol.fm.converter
    converter.register_unstructure_hook(
        CompletionReply, lambda reply: unstructure_reply(reply, converter)
    )

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=["."], resolve_provider=True),
    )
    async def completion(
        ls: BridgeServer, params: types.CompletionParams
    ) -> CompletionReply | None:
        doc = open_document(ls, params.text_document.uri)  # never read from disk
        services = ls.services_now()
        if services is None or doc is None:
            return None
        around = window(doc.source, params.position.line, BEFORE, AFTER, MAX_LINE)
        if around is None:
            return None
        # A copy: the codec clamps an out-of-range position in place.
        cursor = types.Position(0, params.position.character)
        col = doc.position_codec.position_from_client_units([around.line_text], cursor).character
        request = CompletionRequest(around.text, around.line, col, to_fs_path(doc.uri))
        answer = await services.completion.complete(request)
        return CompletionReply(
            answer.incomplete, answer.candidates, _edit_range(request, params.position)
        )


def _edit_range(request: CompletionRequest, cursor: types.Position) -> types.Range:
    """From the start of the word being typed to the cursor, in the client's units (UTF-16)."""
    word = word_before(request.line_text, request.col)
    start = cursor.character - len(word.encode("utf-16-le")) // 2
    return types.Range(types.Position(cursor.line, start), cursor)
