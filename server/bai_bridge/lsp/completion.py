"""textDocument/completion: the engine's candidates as items editing the word being typed."""

from __future__ import annotations

from lsprotocol import types
from pygls.uris import to_fs_path

from .completion_engine import CompletionRequest
from .server import BridgeServer
from .static_completion import Candidate, word_before

__all__ = ["register"]

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


def register(server: BridgeServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION,
        types.CompletionOptions(trigger_characters=["."]),
    )
    async def completion(
        ls: BridgeServer, params: types.CompletionParams
    ) -> types.CompletionList | None:
        if ls.completion is None:
            return None
        doc = ls.workspace.get_text_document(params.text_document.uri)
        position = doc.position_codec.position_from_client_units(doc.lines, params.position)
        request = CompletionRequest(
            doc.source, position.line, position.character, to_fs_path(doc.uri)
        )
        answer = await ls.completion.complete(request)
        return types.CompletionList(
            is_incomplete=answer.incomplete,
            items=_items(answer.candidates, request, params.position),
        )


def _items(
    candidates: list[Candidate], request: CompletionRequest, cursor: types.Position
) -> list[types.CompletionItem]:
    word = word_before(request.line_text, request.col)
    edit_range = types.Range(
        types.Position(cursor.line, cursor.character - len(word.encode("utf-16-le")) // 2),
        cursor,
    )
    return [
        types.CompletionItem(
            label=c.label,
            kind=_KINDS.get(c.kind or "", types.CompletionItemKind.Variable),
            detail=f"bai-bridge: {c.source}",
            sort_text=f"{i:05d}",
            text_edit=types.TextEdit(range=edit_range, new_text=c.label),
        )
        for i, c in enumerate(candidates)
    ]
