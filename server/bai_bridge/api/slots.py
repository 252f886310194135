"""The session's resource slots and usage as ``get_info`` reports them (protocol doc §3.6).

A manager stringifies its slot mappings server-side: ``str(ResourceSlot)`` is the Python repr
``{'cpu': Decimal('2'), 'mem': Decimal('4294967296'), 'cuda.shares': Decimal('0.5')}``, not
JSON. That text is read with `ast` (never evaluated): a literal dict whose values are numbers,
numeric strings (``'4g'`` sizes too) or ``Decimal('…')`` calls. Anything else is "unknown"
(None), never an error: this is display data.

``lastStat`` is the agent's metrics object (``{"cpu_used": {"current": "1234", "unit_hint":
"msec"}, "mem": {...}, ...}``); real managers store it when the session terminates and send
null while it runs, the embedded server fills it with its kernel's live numbers.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

__all__ = ["LiveUsage", "SlotAllocation", "parse_live_usage", "parse_slots"]

# A slot string is a handful of entries; anything longer is not one (and not worth parsing).
MAX_SLOTS_TEXT = 4096
_MAX_AMOUNT = Decimal(10) ** 24  # past any real machine; keeps "1e999999" from becoming an int
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtpe]?)i?b?$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


@attrs.frozen
class SlotAllocation:
    """What the session holds: CPU cores, memory bytes, whole GPUs, fractional GPU shares."""

    cpu: float | None = None
    mem: int | None = None
    cuda_device: float | None = None
    cuda_shares: float | None = None

    @property
    def empty(self) -> bool:
        return attrs.astuple(self) == (None, None, None, None)


@attrs.frozen
class LiveUsage:
    """Usage at one moment: cumulative CPU time (ms), CPU utilisation (%), resident memory."""

    cpu_used_ms: float | None = None
    cpu_util: float | None = None
    mem: int | None = None

    @property
    def empty(self) -> bool:
        return attrs.astuple(self) == (None, None, None)


def parse_slots(raw: Any) -> SlotAllocation | None:
    """A manager's slot text (or an already-decoded mapping) -> allocation; None if unknown."""
    mapping = raw if isinstance(raw, Mapping) else _literal_mapping(raw)
    if mapping is None:
        return None
    amounts = {str(k): _number(v) for k, v in mapping.items()}
    mem = _size(mapping.get("mem"))
    slots = SlotAllocation(
        cpu=_float(amounts.get("cpu")),
        mem=mem,
        cuda_device=_float(amounts.get("cuda.device")),
        cuda_shares=_float(amounts.get("cuda.shares")),
    )
    return None if slots.empty else slots


def parse_live_usage(raw: Any) -> LiveUsage | None:
    """``lastStat`` -> usage; None when absent or unreadable."""
    if not isinstance(raw, Mapping):
        return None
    usage = LiveUsage(
        cpu_used_ms=_float(_number(_current(raw, "cpu_used"))),
        cpu_util=_float(_number(_current(raw, "cpu_util"))),
        mem=_size(_current(raw, "mem")),
    )
    return None if usage.empty else usage


def _current(stats: Mapping[Any, Any], metric: str) -> Any:
    entry = stats.get(metric)
    return entry.get("current") if isinstance(entry, Mapping) else None


def _literal_mapping(text: Any) -> Mapping[Any, Any] | None:
    if not isinstance(text, str) or len(text) > MAX_SLOTS_TEXT:
        return None
    try:
        node = ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError):
        return None
    if not isinstance(node, ast.Dict):
        return None
    out: dict[str, Any] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        out[key.value] = _literal_value(value)
    return out


def _literal_value(node: ast.expr) -> Any:
    """A number or string constant, or ``Decimal('…')``; anything else reads as None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str):
        return node.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Decimal"
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str | int | float)
    ):
        return str(node.args[0].value)
    return None


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() and 0 <= number <= _MAX_AMOUNT else None


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _size(value: Any) -> int | None:
    """Bytes from a number or a ``'4g'``-style size (the manager's BinarySize)."""
    number = _number(value)
    if number is not None:
        return int(number)
    if not isinstance(value, str):
        return None
    match = _SIZE.match(value.strip())
    if match is None:
        return None
    amount = Decimal(match.group(1)) * (1024 ** _UNITS[match.group(2).lower()])
    return int(amount) if amount <= _MAX_AMOUNT else None
