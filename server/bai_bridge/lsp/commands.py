"""`command()`: register a workspace/executeCommand handler taking one typed argument.

Every command's argument goes through one strict converter: lsprotocol's (camelCase, its
types' validators) with no coercion of JSON types. pygls's own converter turned
``{"paths": "a.py"}`` into ``["a", ".", "p", "y"]`` and ``{"path": 12}`` into ``"12"``; here
they are an InvalidParams error that names the field.
"""

from __future__ import annotations

import typing
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import cattrs
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcInvalidParams

from .jsonrpc import describe_invalid
from .server import BridgeServer

__all__ = ["command", "strict_converter", "structure_argument"]

T = TypeVar("T")
R = TypeVar("R")

_JSON_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "a boolean",
}


def _json_name(value: object) -> str:
    if value is None:
        return "null"
    names: dict[type, str] = {dict: "an object", list: "an array", **_JSON_NAMES}
    return names.get(type(value), type(value).__name__)


def _exact(kind: type) -> Callable[[Any, Any], Any]:
    def hook(value: Any, _: Any) -> Any:
        # bool is an int in Python, not in JSON; a JSON integer is a number
        if type(value) is kind or (kind is float and type(value) is int):
            return value
        raise TypeError(f"expected {_JSON_NAMES[kind]}, got {_json_name(value)}")

    return hook


def strict_converter() -> cattrs.Converter:
    converter = get_converter(cattrs.Converter())
    for kind in _JSON_NAMES:
        converter.register_structure_hook(kind, _exact(kind))

    def list_hook(cls: Any) -> Callable[[Any, Any], list[Any]]:
        (item,) = typing.get_args(cls) or (Any,)

        def hook(value: Any, _: Any) -> list[Any]:
            if not isinstance(value, list):  # a string is iterable, but not a list of paths
                raise TypeError(f"expected an array, got {_json_name(value)}")
            return [converter.structure(v, item) for v in value]

        return hook

    converter.register_structure_hook_factory(_is_list, list_hook)
    return converter


def _is_list(cls: Any) -> bool:
    return typing.get_origin(cls) is list or cls is list


_CONVERTER = strict_converter()


def structure_argument(name: str, arguments: tuple[Any, ...], kind: type[T] | None) -> T | None:
    """The one argument of command ``name`` as ``kind``; an absent or null argument is None
    (for ``kind`` None: no argument at all). Raises JsonRpcInvalidParams, saying why."""
    if len(arguments) > 1 or (kind is None and arguments and arguments[0] is not None):
        raise JsonRpcInvalidParams(f"{name} takes {'one argument' if kind else 'no argument'}")
    value = arguments[0] if arguments else None
    if kind is None or value is None:
        return None
    if not isinstance(value, dict):
        raise JsonRpcInvalidParams(f"{name}: expected an object, got {_json_name(value)}")
    try:
        return _CONVERTER.structure(value, kind)
    except cattrs.BaseValidationError as e:
        raise JsonRpcInvalidParams(f"{name}: {describe_invalid(e, 'argument')}") from e
    except (TypeError, ValueError) as e:
        raise JsonRpcInvalidParams(f"{name}: {e}") from e


def command(
    server: BridgeServer, name: str, kind: type[T] | None = None, *, required: bool = True
) -> Callable[[Callable[[BridgeServer, Any], Awaitable[R]]], Any]:
    """Register ``handler(ls, argument)`` for command ``name``; its argument is structured as
    ``kind`` (None when the command takes none, or when not ``required`` and absent)."""

    def decorator(
        handler: Callable[[BridgeServer, Any], Awaitable[R]],
    ) -> Callable[[BridgeServer, Any], Awaitable[R]]:
        async def wrapper(ls: BridgeServer, *arguments: Any) -> R:
            argument = structure_argument(name, arguments, kind)
            if argument is None and kind is not None and required:
                raise JsonRpcInvalidParams(f"{name}: expected one argument object")
            return await handler(ls, argument)

        # pygls reads a command handler's type hints on every call: keep them evaluated
        # already (these annotations are strings under postponed evaluation).
        wrapper.__annotations__ = {}
        wrapper.__name__ = wrapper.__qualname__ = handler.__name__
        server.command(name)(wrapper)
        return handler

    return decorator
