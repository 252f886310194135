"""Completion without the session: jedi on the buffer, plus names the session reported earlier.

Both are blocking or CPU-bound enough to run in a thread (the engine uses a daemon thread).
jedi is imported on the first static completion, not with this module: jedi and the stubs its
first completion loads keep ~35 MiB resident, which an idle language server whose session
answers every completion never needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs

__all__ = ["Candidate", "from_known_names", "jedi_candidates", "word_before"]

_WORD_TAIL = re.compile(r"[A-Za-z_][\w]*$")
_DOTTED_TAIL = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_]\w*)*\.?$")


@attrs.frozen
class Candidate:
    label: str
    source: str  # "session" | "session (cached)" | "static"
    kind: str | None = None  # jedi's type name, e.g. "function", "module"


def word_before(line_text: str, col: int) -> str:
    """The identifier being typed at ``col`` (may be empty)."""
    match = _WORD_TAIL.search(line_text[:col])
    return match.group(0) if match else ""


def jedi_candidates(source: str, line: int, col: int, path: str | None) -> list[Candidate]:
    """Static completions at a 0-based (line, col); [] if jedi cannot make sense of it."""
    import jedi  # here, not at the top: see the module docstring

    try:
        script = jedi.Script(code=source, path=path)
        completions = script.complete(line + 1, col)
    except Exception:  # jedi raises a variety of errors on broken code; static is best effort
        return []
    return [Candidate(c.name, "static", c.type) for c in completions]


def from_known_names(names: Iterable[str], line_text: str, col: int) -> list[Candidate]:
    """Names the session listed earlier (``a``, ``a.b``) that extend what is typed."""
    match = _DOTTED_TAIL.search(line_text[:col])
    typed = match.group(0) if match else ""
    head, _, prefix = typed.rpartition(".")
    found = []
    for name in names:
        owner, _, last = name.rpartition(".")
        if owner == head and last.startswith(prefix) and last != prefix:
            found.append(Candidate(last, "session (cached)"))
    return found
