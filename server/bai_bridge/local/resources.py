"""Validation of requested resource slots (protocol doc §3.1 `config.resources`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from bai_bridge.local.errors import InvalidParams

KNOWN_SLOTS = ("cpu", "mem", "cuda.shares", "cuda.device")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?b?)$", re.IGNORECASE)
_UNITS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def parse_size(value: Any) -> int:
    """`"4g"` -> 4 GiB in bytes, as the manager's BinarySize does."""
    if isinstance(value, bool):
        raise ValueError("not a size")
    if isinstance(value, int | float):
        number, unit = Decimal(str(value)), ""
    else:
        match = _SIZE.match(str(value).strip())
        if match is None:
            raise ValueError("not a size")
        number, unit = Decimal(match.group(1)), match.group(2).lower()
    return int(number * (1024 ** _UNITS[unit]))


def parse_amount(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("not a number")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a number") from None


def normalize_resources(resources: Mapping[str, Any]) -> dict[str, str]:
    """Slot name -> amount as text; unknown slots and bad amounts are `InvalidParams`."""
    unknown = [slot for slot in resources if slot not in KNOWN_SLOTS]
    if unknown:
        raise InvalidParams(
            "Unknown resource slot",
            {slot: f"known slots: {', '.join(KNOWN_SLOTS)}" for slot in unknown},
        )
    out: dict[str, str] = {}
    for slot, value in resources.items():
        try:
            amount = parse_size(value) if slot == "mem" else parse_amount(value)
        except ValueError:
            raise InvalidParams("Invalid resource amount", {slot: repr(value)}) from None
        if amount < 0 or (slot in ("cpu", "mem") and amount == 0):
            raise InvalidParams("Invalid resource amount", {slot: repr(value)})
        if slot == "cuda.device" and Decimal(amount) != int(amount):
            raise InvalidParams("cuda.device must be a whole number", {slot: repr(value)})
        out[slot] = str(amount)
    return out
