"""Completion candidates from the namespace mirror: names, or attributes of a dotted owner."""

from __future__ import annotations

from .mirror import ATTR_KINDS, NamespaceMirror, summary
from .static_completion import Candidate

__all__ = ["from_mirror"]


def from_mirror(mirror: NamespaceMirror, owner: str, word: str) -> list[Candidate]:
    """What the mirror knows that extends ``word`` (after ``owner.``, if any), sorted."""
    if not owner:
        return [
            Candidate(name, "session", entry.kind, summary(entry), name)
            for name, entry in sorted(mirror.entries.items())
            if name.startswith(word)
        ]
    entry = mirror.lookup(owner)
    if entry is None or not entry.attrs:
        return []
    found = []
    for name, letter in sorted(entry.attrs.items(), key=_private_last):
        if name.startswith(word):
            deeper = mirror.lookup(f"{owner}.{name}")
            kind = ATTR_KINDS.get(letter, "instance")
            detail = summary(deeper) if deeper else kind
            found.append(Candidate(name, "session", kind, detail, f"{owner}.{name}"))
    return found


def _private_last(item: tuple[str, str]) -> tuple[bool, str]:
    return item[0].startswith("_"), item[0]
