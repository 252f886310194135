"""Diagnostics from remote tracebacks, kept per file and per span of lines that ran.

Running a span again replaces whatever that span had: a clean run clears its diagnostic.
"""

from __future__ import annotations

from lsprotocol import types

from .tracebacks import RemoteError

__all__ = ["RunDiagnostics"]

SOURCE = "bai-bridge"


class RunDiagnostics:
    def __init__(self) -> None:
        self._by_uri: dict[str, list[tuple[int, int, types.Diagnostic]]] = {}

    def has_any(self, uri: str) -> bool:
        """Whether ``uri`` has run diagnostics the editor is showing."""
        return bool(self._by_uri.get(uri))

    def record(
        self, uri: str, first_line: int, line_count: int, error: RemoteError | None
    ) -> list[types.Diagnostic]:
        """Replace the span's diagnostics with ``error``'s (none if it ran cleanly)."""
        end = first_line + max(line_count, 1)
        kept = [
            item for item in self._by_uri.get(uri, []) if item[1] <= first_line or item[0] >= end
        ]
        if error is not None:
            line = first_line + error.line - 1
            kept.append((first_line, end, _diagnostic(line, error.message)))
        self._by_uri[uri] = kept
        return [diagnostic for _, _, diagnostic in kept]


def _diagnostic(line: int, message: str) -> types.Diagnostic:
    return types.Diagnostic(
        range=types.Range(types.Position(line, 0), types.Position(line + 1, 0)),
        message=message,
        severity=types.DiagnosticSeverity.Error,
        source=SOURCE,
    )
