"""`BridgeProtocol`: pygls's language server protocol, with a cheaper way to sort messages.

pygls tells requests, notifications and responses apart with ``isinstance`` checks against
runtime-checkable Protocols, which Python 3.11 works out from scratch on every check (10-12 µs
each on a warm cache, up to three a message, on the path of every keystroke and run). A
message's kind follows from its class's fields, so it is worked out once per class here.
"""

from __future__ import annotations

import contextvars
import enum
from typing import Any

import attrs
from lsprotocol.types import EXIT
from pygls.protocol import LanguageServerProtocol

__all__ = ["BridgeProtocol", "Kind", "kind_of"]


class Kind(enum.Enum):
    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"
    ERROR = "error"


def kind_of(cls: type) -> Kind | None:
    """The kind of every message of class ``cls`` (None: not an attrs class, ask pygls)."""
    if not attrs.has(cls):
        return None
    fields = {field.name for field in attrs.fields(cls)}
    # The same tests as pygls's RPCRequest, RPCNotification and RPCResponse, in its order.
    if {"id", "method", "params"} <= fields:
        return Kind.REQUEST
    if {"method", "params"} <= fields:
        return Kind.NOTIFICATION
    if {"id", "result"} <= fields:
        return Kind.RESPONSE
    return Kind.ERROR


class BridgeProtocol(LanguageServerProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kinds: dict[type, Kind | None] = {}

    def handle_message(self, message: Any) -> None:
        cls = type(message)
        if cls not in self._kinds:
            self._kinds[cls] = kind_of(cls)
        kind = self._kinds[cls]
        dropped = message.jsonrpc != self.VERSION or (
            self._shutdown and getattr(message, "method", "") != EXIT
        )
        if kind is None or dropped:
            super().handle_message(message)  # pygls's own way, and its warnings
            return
        context = contextvars.copy_context()  # each handler in a context of its own, as pygls
        if kind is Kind.REQUEST:
            context.run(self._handle_request, message.id, message.method, message.params)
        elif kind is Kind.NOTIFICATION:
            context.run(self._handle_notification, message.method, message.params)
        elif kind is Kind.RESPONSE:
            context.run(self._handle_response, message.id, message.result)
        else:
            context.run(self._handle_response, message.id, None, message.error)
