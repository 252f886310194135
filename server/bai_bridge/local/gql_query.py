"""The session list's ``status``, ``filter`` and ``order`` arguments, as the manager reads them.

``status``: comma-separated status names. ``order``: comma-separated fields, each with an
optional ``+`` (ascending, the default) or ``-``. ``filter``: the manager's query-filter
language, in the part people write: ``field op value`` terms joined by ``&`` (all must
hold) or ``|`` (any), where op is ``==``, ``!=``, ``like``, ``ilike`` (``%`` matches any
text), ``in`` or ``not in`` (a JSON list); values are JSON (``"text"``, numbers). Parentheses
and mixing ``&`` with ``|`` are refused with a message rather than guessed at. Every
refusal is a GraphQLError, so it reaches the caller in the GraphQL answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLError

from bai_bridge.local.session import Session

__all__ = ["order_sessions", "parse_filter", "parse_order", "parse_status"]

# The manager's SessionStatus names (a status only a cluster has simply matches nothing).
STATUSES = frozenset({
    "PENDING", "SCHEDULED", "PREPARING", "PULLING", "PREPARED", "CREATING", "RUNNING",
    "RESTARTING", "RUNNING_DEGRADED", "TERMINATING", "TERMINATED", "ERROR", "CANCELLED",
})  # fmt: skip

_FIELDS: dict[str, Callable[[Session], Any]] = {
    "id": lambda s: str(s.id),
    "name": lambda s: s.name,
    "image": lambda s: s.spec.image,
    "type": lambda s: s.spec.type.upper(),
    "status": lambda s: str(s.status),
    "status_info": lambda s: s.status_info,
    "domain_name": lambda s: s.spec.domain,
    "group_name": lambda s: s.spec.group,
    "access_key": lambda s: s.spec.access_key,
    "tag": lambda s: s.spec.tag,
    "cluster_size": lambda _s: 1,
    "created_at": lambda s: s.created_at,
    "terminated_at": lambda s: s.terminated_at,
    "startup_command": lambda s: s.spec.startup_command,
}
_TERM = re.compile(r"^\s*(\w+)\s*(==|!=|\bnot\s+in\b|\bin\b|\bilike\b|\blike\b)\s*(.+?)\s*$")
_QUOTED = r'"(?:[^"\\]|\\.)*"'

Predicate = Callable[[Session], bool]


def parse_status(text: str | None) -> frozenset[str] | None:
    if text is None:
        return None
    names = frozenset(part.strip().upper() for part in text.split(",") if part.strip())
    unknown = sorted(names - STATUSES)
    if unknown:
        raise GraphQLError(f"unknown session status: {', '.join(unknown)}")
    return names


def parse_order(text: str | None) -> list[tuple[str, bool]]:
    """``[(field, descending)]``; newest first when none is given (the manager's default)."""
    if not text or not text.strip():
        return [("created_at", True)]
    order = []
    for part in text.split(","):
        part = part.strip()
        descending, name = part.startswith("-"), part.lstrip("+-").strip()
        if name not in _FIELDS:
            raise GraphQLError(f"cannot order by {name!r}")
        order.append((name, descending))
    return order


def order_sessions(sessions: Sequence[Session], order: list[tuple[str, bool]]) -> list[Session]:
    ordered = list(sessions)
    for name, descending in reversed(order):  # stable sorts, least significant key first
        field = _FIELDS[name]
        ordered.sort(key=lambda s: (field(s) is not None, field(s)), reverse=descending)
    return ordered


def parse_filter(text: str | None) -> Predicate:
    if text is None or not text.strip():
        return lambda _s: True
    if "(" in _unquoted(text):
        raise GraphQLError("filter: parentheses are not supported here")
    joined = _unquoted(text)
    if "&" in joined and "|" in joined:
        raise GraphQLError("filter: mixing '&' and '|' is not supported here")
    separator = "|" if "|" in joined else "&"
    terms = [_term(part) for part in _split(text, separator)]
    if separator == "|":
        return lambda s: any(term(s) for term in terms)
    return lambda s: all(term(s) for term in terms)


def _unquoted(text: str) -> str:
    return re.sub(_QUOTED, '""', text)


def _split(text: str, separator: str) -> list[str]:
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if char == separator and not quoted:
            parts.append(current)
            current = ""
            continue
        current += char
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
    return [*parts, current]


def _term(text: str) -> Predicate:
    match = _TERM.match(text)
    if match is None:
        raise GraphQLError(f"filter: cannot read {text.strip()!r} (expected: field op value)")
    name, op, raw = match.groups()
    if name not in _FIELDS:
        raise GraphQLError(f"filter: unknown field {name!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise GraphQLError(f'filter: {raw!r} is not a value (quote text: "...")') from None
    return _predicate(_FIELDS[name], " ".join(op.split()), value)


def _predicate(field: Callable[[Session], Any], op: str, value: Any) -> Predicate:
    if op in ("in", "not in"):
        if not isinstance(value, list):
            raise GraphQLError(f"filter: '{op}' takes a list")
        wanted = [str(v) for v in value]
        return lambda s: (str(field(s)) in wanted) == (op == "in")
    if op in ("like", "ilike"):
        flags = re.IGNORECASE if op == "ilike" else 0
        pattern = re.compile(".*".join(re.escape(p) for p in str(value).split("%")), flags)
        return lambda s: field(s) is not None and pattern.fullmatch(str(field(s))) is not None
    if op == "==":
        return lambda s: _same(field(s), value)
    return lambda s: not _same(field(s), value)


def _same(actual: Any, value: Any) -> bool:
    return actual == value or (actual is not None and str(actual) == str(value))
