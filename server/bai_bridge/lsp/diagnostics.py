"""Diagnostics from remote tracebacks, kept per file and per span of lines that ran.

Running a span again replaces whatever that span had: a clean run clears its diagnostic. The
text moves under them: an edit above a diagnostic moves it with its line, an edit of its line
drops it (the traceback no longer describes that text), and so does a session restart (the
state it came from is gone).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
from lsprotocol import types

from .tracebacks import RemoteError

__all__ = ["RunDiagnostics"]

SOURCE = "bai-bridge"


@attrs.frozen
class _Entry:
    """A traceback's line (0-based) and its length when shown; the span (``first``..``end``,
    end exclusive) that ran and reported it."""

    first: int
    end: int
    line: int
    length: int
    message: str

    def diagnostic(self) -> types.Diagnostic:
        return types.Diagnostic(
            range=types.Range(types.Position(self.line, 0), types.Position(self.line, self.length)),
            message=self.message,
            severity=types.DiagnosticSeverity.Error,
            source=SOURCE,
        )


class RunDiagnostics:
    def __init__(self) -> None:
        self._by_uri: dict[str, list[_Entry]] = {}

    def has_any(self, uri: str) -> bool:
        """Whether ``uri`` has run diagnostics the editor is showing."""
        return bool(self._by_uri.get(uri))

    def record(
        self,
        uri: str,
        first_line: int,
        line_count: int,
        error: RemoteError | None,
        lines: Sequence[str] = (),
    ) -> list[types.Diagnostic]:
        """Replace the span's diagnostics with ``error``'s (none if it ran cleanly); ``lines``:
        the file's text now, for the length of the error's line."""
        end = first_line + max(line_count, 1)
        kept = [e for e in self._by_uri.get(uri, []) if e.end <= first_line or e.first >= end]
        if error is not None:
            line = first_line + error.line - 1
            length = len(lines[line]) if 0 <= line < len(lines) else 0
            kept.append(_Entry(first_line, end, line, length, error.message))
        self._by_uri[uri] = kept
        return [entry.diagnostic() for entry in kept]

    def edit(
        self, uri: str, changes: Sequence[types.TextDocumentContentChangeEvent]
    ) -> list[types.Diagnostic] | None:
        """Follow a didChange: the diagnostics now, or None if they did not change."""
        before = self._by_uri.get(uri)
        if not before:
            return None
        entries: list[_Entry] = before
        for change in changes:
            if isinstance(change, types.TextDocumentContentChangePartial):
                entries = [moved for e in entries if (moved := _moved(e, change)) is not None]
            else:
                entries = []  # the whole text replaced: no line is known to be the same
        if entries == before:
            return None
        self._by_uri[uri] = entries
        return [entry.diagnostic() for entry in entries]

    def clear(self) -> list[str]:
        """Forget every diagnostic; the files that had some (to publish them empty)."""
        uris = [uri for uri, entries in self._by_uri.items() if entries]
        self._by_uri.clear()
        return uris


def _moved(entry: _Entry, change: types.TextDocumentContentChangePartial) -> _Entry | None:
    """``entry`` after ``change``; None when its line's text was edited."""
    start, end, text = change.range.start, change.range.end, change.text
    added = text.count("\n") - (end.line - start.line)
    line = entry.line
    if end.line < line or ((end.line, end.character) == (line, 0) and _ends_a_line(change)):
        line += added  # before the line: it moves by the lines added or removed
    elif start.line > line or (start.line == line and start.character >= entry.length):
        if start.line == line and not text.startswith("\n"):
            return None  # typed at the end of the line
        # after the line: it stays where it is
    else:
        return None
    first = entry.first + (added if end.line < entry.first else 0)
    return attrs.evolve(
        entry, line=line, first=first, end=entry.end + (added if end.line < entry.end else 0)
    )


def _ends_a_line(change: types.TextDocumentContentChangePartial) -> bool:
    """Whether what the change leaves before the next line's text ends with a line break: new
    lines inserted above it, or whole lines deleted."""
    if change.text:
        return change.text.endswith("\n")
    return change.range.start.character == 0
