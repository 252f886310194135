"""The completion answer is written as LSP JSON directly: the same JSON lsprotocol writes."""

from __future__ import annotations

import json

from lsprotocol import types
from pygls.protocol import default_converter
from pygls.protocol.json_rpc import JsonRPCResponseMessage

from bai_bridge.lsp.completion import CompletionReply, unstructure_reply
from bai_bridge.lsp.static_completion import Candidate

KINDS = {
    None: types.CompletionItemKind.Variable,
    "module": types.CompletionItemKind.Module,
    "function": types.CompletionItemKind.Function,
}


def typed_list(reply: CompletionReply) -> types.CompletionList:
    """What the handler answered before: lsprotocol items, one TextEdit each."""
    items = [
        types.CompletionItem(
            label=c.label,
            kind=KINDS[c.kind],
            detail=c.detail or f"bai-bridge: {c.source}",
            sort_text=f"{i:05d}",
            text_edit=types.TextEdit(range=reply.edit_range, new_text=c.label),
            data={"path": c.path} if c.path else None,
        )
        for i, c in enumerate(reply.candidates)
    ]
    return types.CompletionList(is_incomplete=reply.incomplete, items=items)


def test_the_reply_is_the_json_of_the_equivalent_completion_list() -> None:
    converter = default_converter()
    edit_range = types.Range(types.Position(3, 3), types.Position(3, 5))
    candidates = [
        Candidate("keys", "session"),
        Candidate("os", "static", "module"),
        Candidate("größe", "session"),
        Candidate("head", "session", "function", "function (n: int = 5)", "df.head"),
    ]
    for reply in (
        CompletionReply(False, candidates, edit_range),
        CompletionReply(True, [], edit_range),
    ):
        expected = json.dumps(converter.unstructure(typed_list(reply)))
        assert json.dumps(unstructure_reply(reply, converter)) == expected


def test_a_registered_hook_writes_the_reply_inside_a_response() -> None:
    converter = default_converter()
    converter.register_unstructure_hook(
        CompletionReply, lambda reply: unstructure_reply(reply, converter)
    )
    reply = CompletionReply(
        False,
        [Candidate("keys", "session")],
        types.Range(types.Position(0, 3), types.Position(0, 5)),
    )
    response = JsonRPCResponseMessage(id=1, result=reply, jsonrpc="2.0")
    wire = json.loads(json.dumps(converter.unstructure(response)))
    parsed = converter.structure(wire["result"], types.CompletionList)
    expected = typed_list(reply)
    assert parsed.is_incomplete == expected.is_incomplete
    assert list(parsed.items) == expected.items
