"""textDocument/signatureHelp: the live signature of the callable being called, from the
namespace mirror (during runs too; a dotted callee the snapshot did not reach is fetched once,
while no run is going on)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from lsprotocol import types

from .completion import MAX_LINE
from .documents import open_document
from .hover import lookup, markup, static_request
from .server import BridgeServer
from .static_help import StaticSignature
from .text_window import window

__all__ = ["open_call", "parameters", "register"]

_CALLEE = re.compile(r"([A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*)\s*$")
_LOOK_BACK = 2000  # characters before the cursor searched for the open call
ABOVE = _LOOK_BACK  # whole lines above the cursor's read from the buffer
_CLOSE = {")": "(", "]": "[", "}": "{"}


def open_call(before: str) -> tuple[str, int] | None:
    """The dotted callee of the innermost call still open at the end of ``before``, and the
    index of the argument being typed; None outside a call (or on a call of an expression)."""
    depth: list[str] = []
    commas = 0
    for i in range(len(before) - 1, max(-1, len(before) - 1 - _LOOK_BACK), -1):
        char = before[i]
        if char in _CLOSE:
            depth.append(char)
        elif char in "([{":
            if depth:
                depth.pop()
            elif char != "(":
                commas = 0  # inside a list or dict literal: its commas are not arguments
            else:
                match = _CALLEE.search(before[:i])
                return (match.group(1), commas) if match else None
        elif char == "," and not depth:
            commas += 1
    return None


def parameters(signature: str) -> list[tuple[int, int]]:
    """Where each parameter of ``(a, b: int = 1, *, c)`` is in it (top-level commas only)."""
    if not signature.startswith("("):
        return []
    spans, depth, start = [], 0, 1
    for i, char in enumerate(signature[: signature.rfind(")") + 1]):
        if char in ",)" and depth == 1:
            text = signature[start:i]
            if text.strip():
                begin = start + len(text) - len(text.lstrip())
                spans.append((begin, start + len(text.rstrip())))
            start = i + 1
        depth += char in "([{"
        depth -= char in ")]}"
    return spans


def register(server: BridgeServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_SIGNATURE_HELP,
        types.SignatureHelpOptions(trigger_characters=["(", ","], retrigger_characters=[","]),
    )
    async def signature_help(
        ls: BridgeServer, params: types.SignatureHelpParams
    ) -> types.SignatureHelp | None:
        services = ls.services_now()
        if services is None:
            return None
        doc = open_document(ls, params.text_document.uri)  # never read from disk
        if doc is None:
            return None
        around = window(doc.source, params.position.line, ABOVE, 0, MAX_LINE)
        if around is None:
            return None
        # A copy: the codec clamps an out-of-range position in place.
        cursor = types.Position(0, params.position.character)
        line = around.line_text
        column = doc.position_codec.position_from_client_units([line], cursor).character
        above = around.text[: len(around.text) - len(line)]
        call = open_call(above + line[:column])
        if call is None:
            return None
        path, argument = call
        entry = await lookup(services.mirror, path, ls.options.completion_timeout)
        if entry is None or entry.signature is None:
            here = types.Position(params.position.line, column)
            request = static_request(doc.source, here, doc.uri)
            engine = services.completion
            found = await engine.static_signature(request) if engine and request else None
            return _static_help(ls, found, argument) if found is not None else None
        spans = parameters(entry.signature)
        documentation = markup(entry.doc, _formats(ls)) if entry.doc else None
        shift = len(path)
        signature = types.SignatureInformation(
            label=f"{path}{entry.signature}",
            documentation=documentation,
            parameters=[types.ParameterInformation(label=(a + shift, b + shift)) for a, b in spans],
        )
        active = min(argument, max(len(spans) - 1, 0))
        return types.SignatureHelp([signature], active_signature=0, active_parameter=active)


def _static_help(ls: BridgeServer, found: StaticSignature, argument: int) -> types.SignatureHelp:
    """A session-only package's signature as jedi reads it from the cached sources."""
    spans, start = [], found.label.find("(") + 1
    for text in found.parameters:
        begin = found.label.find(text, start)
        if begin < 0:
            break
        spans.append(types.ParameterInformation(label=(begin, begin + len(text))))
        start = begin + len(text)
    documentation = markup(found.doc, _formats(ls)) if found.doc else None
    signature = types.SignatureInformation(
        label=found.label, documentation=documentation, parameters=spans
    )
    active = found.active if found.active is not None else argument
    return types.SignatureHelp([signature], active_signature=0, active_parameter=active)


def _formats(ls: BridgeServer) -> Sequence[types.MarkupKind] | None:
    capability = ls.client_capabilities.text_document
    help_ = capability.signature_help if capability else None
    info = help_.signature_information if help_ else None
    return info.documentation_format if info else None
