"""Completion without the session: jedi on the buffer.

jedi is blocking and CPU-bound enough to run in a thread (the engine uses a daemon thread).
jedi is imported on the first static completion, not with this module: jedi and the stubs its
first completion loads keep ~35 MiB resident, which an idle language server whose session
answers every completion never needs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["Candidate", "jedi_candidates", "jedi_script", "word_before"]

_WORD_TAIL = re.compile(r"[A-Za-z_][\w]*$")


@attrs.frozen
class Candidate:
    label: str
    source: str  # "session" | "static"
    kind: str | None = None  # jedi's type name or the mirror's kind, e.g. "function", "module"
    detail: str | None = None  # the live type, e.g. "DataFrame (3, 2)"
    path: str | None = None  # the live object's dotted name: completionItem/resolve's key


def word_before(line_text: str, col: int) -> str:
    """The identifier being typed at ``col`` (may be empty)."""
    match = _WORD_TAIL.search(line_text[:col])
    return match.group(0) if match else ""


def jedi_script(source: str, path: str | None, extra_paths: Sequence[str] = ()) -> Any:
    """A jedi Script of ``source``; ``extra_paths`` (the session-only packages' sources)
    join its default project's sys.path."""
    import jedi  # here, not at the top: see the module docstring

    if not extra_paths:
        return jedi.Script(code=source, path=path)
    base = jedi.get_default_project(path)
    project = jedi.Project(base.path, added_sys_path=list(extra_paths))
    return jedi.Script(code=source, path=path, project=project)


def jedi_candidates(
    source: str, line: int, col: int, path: str | None, extra_paths: Sequence[str] = ()
) -> list[Candidate]:
    """Static completions at a 0-based (line, col); [] if jedi cannot make sense of it."""
    try:
        script = jedi_script(source, path, extra_paths)
        completions = script.complete(line + 1, col)
    except Exception:  # jedi raises a variety of errors on broken code; static is best effort
        return []
    return [Candidate(c.name, "static", c.type) for c in completions]
