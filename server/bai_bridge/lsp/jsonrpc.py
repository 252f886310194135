"""`BridgeProtocol`: pygls's language server protocol, with messages sorted and checked our way.

pygls tells requests, notifications and responses apart with ``isinstance`` checks against
runtime-checkable Protocols, which Python 3.11 works out from scratch on every check (10-12 µs
each on a warm cache, up to three a message, on the path of every keystroke and run). A
message's kind follows from its class's fields, so it is worked out once per class here.

A message pygls cannot structure (a position with line -1) went unanswered, as did every
request after shutdown: here every request gets a response, an error where it is invalid
(LSP: InvalidParams, InvalidRequest after shutdown, ParseError for a body that is not JSON).
Frames are read by framing.py. A document's changes are applied by edits.py (pygls's way
rewrote every line each keystroke), and closing a large one gives its memory back (memory.py).
"""

from __future__ import annotations

import contextvars
import enum
import json
import logging
from collections.abc import Generator
from typing import Any
from urllib.parse import unquote

import attrs
import cattrs
from cattrs.v import format_exception
from lsprotocol.types import (
    EXIT,
    SHUTDOWN,
    TEXT_DOCUMENT_DID_CHANGE,
    TEXT_DOCUMENT_DID_CLOSE,
    DidChangeTextDocumentParams,
    DidCloseTextDocumentParams,
    ResponseError,
)
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInvalidParams,
    JsonRpcInvalidRequest,
    JsonRpcParseError,
)
from pygls.protocol import LanguageServerProtocol, lsp_method

from .edits import apply_change
from .memory import LARGE, give_back_freed_memory

__all__ = ["BridgeProtocol", "Kind", "describe_invalid", "kind_of"]

log = logging.getLogger(__name__)


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
        # Set when `shutdown` arrives, not when it is done as pygls's flag: a request that
        # comes while shutting down is refused as well.
        self.shutdown_requested = False

    def receive(self, body: bytes) -> None:
        """One message's body, whatever it holds: invalid input gets an error response where
        it has an id (null for a body that is not JSON), and a log line."""
        try:
            data = json.loads(body)
        except ValueError as e:
            log.warning("a message that is not JSON: %s", e)
            self.reply_error(None, JsonRpcParseError(f"not JSON: {e}"))
            return
        if not isinstance(data, dict) or data.get("jsonrpc") != self.VERSION:
            log.warning("not a JSON-RPC 2.0 message: %.200s", body)
            msg_id = data.get("id") if isinstance(data, dict) else None
            self.reply_error(msg_id, JsonRpcInvalidRequest("not a JSON-RPC 2.0 message"))
            return
        try:
            message = self.structure_message(data)
        except JsonRpcException as e:
            self._refuse(data, e)
            return
        self.handle_message(message)

    def _refuse(self, data: dict[str, Any], error: JsonRpcException) -> None:
        """A message that does not fit its method's types: said to whoever waits for it."""
        cause = error.__cause__
        why = (
            describe_invalid(cause, "message")
            if isinstance(cause, cattrs.BaseValidationError)
            else str(cause or error)
        )
        method, msg_id = data.get("method"), data.get("id")
        log.warning("invalid message %r (id %r): %s", method, msg_id, why)
        if "id" not in data:
            return  # a notification: nobody waits for an answer
        if method is None:  # a response of the client's that cannot be read
            if isinstance(msg_id, int | str) and msg_id in self._request_futures:
                self._handle_response(msg_id, None, ResponseError(error.code, why))
            return
        kind = JsonRpcInvalidParams if isinstance(error, JsonRpcInvalidParams) else None
        self.reply_error(msg_id, (kind or JsonRpcInvalidRequest)(f"{method}: {why}"))

    def reply_error(self, msg_id: Any, error: JsonRpcException) -> None:
        """An error response; to id null when ``msg_id`` is not a valid id (JSON-RPC 2.0)."""
        valid = isinstance(msg_id, int | str) and not isinstance(msg_id, bool)
        # A dict: lsprotocol's message would leave a null id out, and JSON-RPC requires it.
        response = {
            "jsonrpc": self.VERSION,
            "id": msg_id if valid else None,
            "error": self._converter.unstructure(error.to_response_error()),
        }
        self._send_data(response)

    @lsp_method(TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(
        self, params: DidChangeTextDocumentParams
    ) -> Generator[Any, Any, None]:
        """pygls's, with changes applied in time that does not grow with the line count."""
        document = self.workspace.text_documents.get(unquote(params.text_document.uri))
        if document is None:
            log.warning("a change to %s, which is not open", params.text_document.uri)
        else:
            for change in params.content_changes:
                apply_change(document, change)
            document.version = params.text_document.version
        if (user_handler := self.fm.features.get(TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None

    @lsp_method(TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(
        self, params: DidCloseTextDocumentParams
    ) -> Generator[Any, Any, None]:
        """pygls's, and the memory of a large document given back to the system."""
        document = self.workspace.text_documents.get(unquote(params.text_document.uri))
        large = document is not None and len(document.source) > LARGE
        del document
        self.workspace.remove_text_document(params.text_document.uri)
        if large:
            give_back_freed_memory()
        if (user_handler := self.fm.features.get(TEXT_DOCUMENT_DID_CLOSE)) is not None:
            yield user_handler, (params,), None

    def handle_message(self, message: Any) -> None:
        cls = type(message)
        if cls not in self._kinds:
            self._kinds[cls] = kind_of(cls)
        kind = self._kinds[cls]
        if kind is Kind.REQUEST:
            if self.shutdown_requested:
                self.reply_error(
                    message.id, JsonRpcInvalidRequest(f"{message.method}: shutting down")
                )
                return
            if message.method == SHUTDOWN:
                self.shutdown_requested = True
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


def describe_invalid(error: cattrs.BaseValidationError, path: str) -> str:
    """What is wrong where, e.g. "Position.line should be in range [0:2147483647], but was
    -1. @ message.params.position"."""
    return "; ".join(cattrs.transform_error(error, path=path, format_exception=_problem))


def _problem(error: BaseException, kind: type | None) -> str:
    """Validators' and hooks' own words; cattrs's for the rest."""
    if isinstance(error, TypeError | ValueError) and str(error):
        return str(error)
    return format_exception(error, kind)
