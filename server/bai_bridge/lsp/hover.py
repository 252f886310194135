"""textDocument/hover: the live object under the cursor, from the namespace mirror.

Answers during runs from what the last snapshot knew; a dotted path the snapshot did not go
down to is fetched once, only while no run is going on.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from lsprotocol import types
from pygls.uris import to_fs_path

from .completion import BEFORE, MAX_LINE
from .completion_engine import CompletionRequest
from .documents import open_document
from .mirror import Entry, NamespaceMirror, summary
from .server import BridgeServer
from .static_help import StaticHover
from .text_window import window

__all__ = ["dotted_at", "markdown", "markup", "register", "static_request"]

_LEFT = re.compile(r"[A-Za-z_][\w.]*$")
_RIGHT = re.compile(r"^\w*")


def dotted_at(line: str, col: int) -> tuple[str, int, int] | None:
    """The dotted name ending with the word at ``col`` (``df.shape`` on ``shape``, ``df`` on
    ``df``), with its start and end columns; None off a name."""
    right = _RIGHT.match(line[col:])
    tail = right.group(0) if right else ""
    if not tail:
        return None  # hover is on the character at ``col``: not part of a name
    left = _LEFT.search(line[:col])
    head = left.group(0) if left else ""
    start = col - len(head)
    path = (head + tail).strip(".")
    if not path or not (path[0].isalpha() or path[0] == "_") or ".." in path:
        return None
    return path, start, col + len(tail)


def markdown(path: str, entry: Entry) -> str:
    lines = [f"```python\n{path}: {summary(entry)}\n```"]
    if entry.columns:
        lines.append("columns: " + ", ".join(f"`{c}`" for c in entry.columns))
    if entry.repr is not None:
        lines.append(f"```python\n{entry.repr}\n```")
    if entry.doc:
        lines.append(entry.doc)
    if entry.kind == "instance" and entry.type != summary(entry).split(" ")[0]:
        lines.append(f"`{entry.type}`")
    return "\n\n".join(lines)


def static_markdown(found: StaticHover) -> str:
    """A session-only package's name as jedi reads it from the cached sources."""
    head = f"```python\n{found.kind} {found.signature or found.name}\n```"
    return f"{head}\n\n{found.doc}" if found.doc else head


def static_request(source: str, position: types.Position, uri: str) -> CompletionRequest | None:
    """What jedi reads for a (server-unit) ``position``: the text up to it, bounded as
    completion's, so the buffer's imports are in it."""
    around = window(source, position.line, BEFORE, 0, MAX_LINE)
    if around is None:
        return None
    return CompletionRequest(around.text, around.line, position.character, to_fs_path(uri))


def markup(text: str, formats: Sequence[types.MarkupKind] | None) -> types.MarkupContent | str:
    """``text`` (markdown) in a format the client takes: markdown if it lists it first, else
    plain text (as a bare string when it lists no format: always allowed)."""
    if formats and formats[0] == types.MarkupKind.Markdown:
        return types.MarkupContent(types.MarkupKind.Markdown, text)
    plain = re.sub(r"```\w*\n?", "", text).replace("`", "").strip()
    if formats and types.MarkupKind.PlainText in formats:
        return types.MarkupContent(types.MarkupKind.PlainText, plain)
    return plain


async def lookup(mirror: NamespaceMirror, path: str, limit: float) -> Entry | None:
    """The entry of ``path``; failing that, what its owner's attribute list says of it."""
    try:
        entry = await asyncio.wait_for(mirror.describe(path), limit)
    except TimeoutError:
        entry = mirror.lookup(path)
    kind = mirror.attribute_kind(path) if entry is None else None
    return Entry(kind, kind) if kind else entry


def register(server: BridgeServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_HOVER)
    async def hover(ls: BridgeServer, params: types.HoverParams) -> types.Hover | None:
        services = ls.services_now()
        if services is None:
            return None
        doc = open_document(ls, params.text_document.uri)  # never read from disk
        if doc is None:
            return None
        around = window(doc.source, params.position.line, 0, 0, MAX_LINE)
        if around is None:
            return None
        line = around.line_text
        # A copy: the codec clamps an out-of-range position in place.
        cursor = types.Position(0, params.position.character)
        column = doc.position_codec.position_from_client_units([line], cursor).character
        position = types.Position(params.position.line, column)
        found = dotted_at(line.rstrip("\r\n"), position.character)
        if found is None:
            return None
        path, start, end = found
        entry = await lookup(services.mirror, path, ls.options.completion_timeout)
        text = markdown(path, entry) if entry is not None else None
        if text is None:
            request = static_request(doc.source, position, doc.uri)
            engine = services.completion
            static = await engine.static_hover(request) if engine and request else None
            text = static_markdown(static) if static is not None else None
        if text is None:
            return None
        shifted = types.Range(types.Position(0, start), types.Position(0, end))
        columns = doc.position_codec.range_to_client_units([line], shifted)
        client_range = types.Range(
            types.Position(position.line, columns.start.character),
            types.Position(position.line, columns.end.character),
        )
        capability = ls.client_capabilities.text_document
        hover = capability.hover if capability else None
        content = markup(text, hover.content_format if hover else None)
        return types.Hover(contents=content, range=client_range)
