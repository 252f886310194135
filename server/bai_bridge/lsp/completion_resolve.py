"""completionItem/resolve: a live item's documentation (type, size, repr, doc) from the mirror,
filled only for the item the person looks at."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lsprotocol import types

from .hover import lookup, markdown, markup
from .server import BridgeServer

__all__ = ["register"]


def _path(data: Any) -> str | None:
    path = data.get("path") if isinstance(data, dict) else getattr(data, "path", None)
    return path if isinstance(path, str) and path else None


def register(server: BridgeServer) -> None:
    @server.feature(types.COMPLETION_ITEM_RESOLVE)
    async def resolve(ls: BridgeServer, item: types.CompletionItem) -> types.CompletionItem:
        path = _path(item.data)
        services = ls.services_now()
        if services is None or path is None:
            return item
        entry = await lookup(services.mirror, path, ls.options.completion_timeout)
        if entry is not None:
            item.documentation = markup(markdown(path, entry), _formats(ls))
        return item


def _formats(ls: BridgeServer) -> Sequence[types.MarkupKind] | None:
    capability = ls.client_capabilities.text_document
    completion = capability.completion if capability else None
    item = completion.completion_item if completion else None
    return item.documentation_format if item else None
