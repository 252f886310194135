"""Request JSON that is also valid Unicode.

JSON may spell a lone UTF-16 surrogate (``"\\ud800"``); Python decodes it into a `str` that
cannot be encoded as UTF-8, so it would fail deep inside a kernel message or a file write
(a 500). It is refused here, where the body is read, naming the field that holds it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bai_bridge.local.errors import InvalidParams

__all__ = ["parse_json"]

# An escaped surrogate, or one encoded in the raw bytes (json.loads decodes with
# `surrogatepass`): only bodies holding one are walked.
_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_SURROGATE_BYTES_HINT = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")


def parse_json(raw: bytes | str) -> Any:
    """`raw` parsed; `InvalidParams` for malformed JSON or a string that is not Unicode."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidParams("Malformed body") from None
    hint = _SURROGATE_BYTES_HINT if isinstance(raw, bytes) else _SURROGATE_HINT
    if hint.search(raw) is not None:  # type: ignore[arg-type]
        _check_text(value, "body")
    return value


def _check_text(value: Any, where: str) -> None:
    if isinstance(value, str):
        _check_string(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_string(key, where)
            _check_text(item, f"{where}.{key}" if where != "body" else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{where}[{index}]")


def _check_string(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        char = text[e.start]
        raise InvalidParams(
            f"{where} holds a lone surrogate ({char.encode('unicode_escape').decode()}) at "
            f"character {e.start}: text must be valid Unicode.",
            data={"field": where, "position": e.start},
        ) from None
