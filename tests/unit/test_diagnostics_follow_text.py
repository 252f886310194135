"""Run diagnostics follow the text: they move with their line, go when it is edited."""

from __future__ import annotations

from lsprotocol import types

from bai_bridge.lsp.diagnostics import RunDiagnostics
from bai_bridge.lsp.tracebacks import RemoteError

URI = "file:///a.py"
LINES = ["a = 1", "b = 0", "print(a / b)", "", "done = True"]


def change(
    line: int, col: int, end_line: int, end_col: int, text: str
) -> types.TextDocumentContentChangePartial:
    where = types.Range(types.Position(line, col), types.Position(end_line, end_col))
    return types.TextDocumentContentChangePartial(range=where, text=text)


def failing() -> RunDiagnostics:
    """A store with a ZeroDivisionError on line 2 (0-based) of a run of the whole file."""
    store = RunDiagnostics()
    [shown] = store.record(URI, 0, 5, RemoteError(3, "ZeroDivisionError: division by zero"), LINES)
    assert (shown.range.start.line, shown.range.end.line, shown.range.end.character) == (2, 2, 12)
    return store


def lines_after(
    store: RunDiagnostics, *changes: types.TextDocumentContentChangePartial
) -> list[int] | None:
    moved = store.edit(URI, list(changes))
    return None if moved is None else [d.range.start.line for d in moved]


def test_lines_added_or_removed_above_move_the_diagnostic_with_its_line() -> None:
    store = failing()
    assert lines_after(store, change(0, 0, 0, 0, "# one\n# two\n")) == [4]
    assert lines_after(store, change(0, 0, 1, 0, "")) == [3]  # a whole line deleted
    assert lines_after(store, change(0, 5, 0, 5, "\nc = 2")) == [4]  # Enter at a line's end


def test_an_edit_of_the_line_drops_the_diagnostic() -> None:
    assert lines_after(failing(), change(2, 6, 2, 7, "x")) == []
    assert lines_after(failing(), change(2, 12, 2, 12, "  # why")) == []  # typed at its end
    assert lines_after(failing(), change(2, 0, 2, 0, "x = ")) == []  # typed at its start
    assert lines_after(failing(), change(1, 5, 2, 0, "")) == []  # joined to the line above


def test_edits_that_leave_the_line_alone_keep_it_where_it_is() -> None:
    assert lines_after(failing(), change(2, 12, 2, 12, "\nmore = 1")) == [2]  # Enter at its end
    assert lines_after(failing(), change(4, 0, 4, 4, "over")) is None  # below it
    assert lines_after(failing(), change(2, 0, 2, 0, "# above\n")) == [3]  # a line inserted above


def test_a_replaced_document_drops_every_diagnostic() -> None:
    store = failing()
    assert store.edit(URI, [types.TextDocumentContentChangeWholeDocument(text="x = 1\n")]) == []
    assert not store.has_any(URI)


def test_the_span_that_ran_moves_too_so_a_clean_rerun_still_clears_it() -> None:
    store = failing()
    assert lines_after(store, change(0, 0, 0, 0, "import math\n")) == [3]
    assert store.record(URI, 1, 5, None) == []  # the same code, one line lower


def test_clear_names_the_files_that_had_diagnostics() -> None:
    store = failing()
    store.record("file:///b.py", 0, 1, None)
    assert store.clear() == [URI]
    assert not store.has_any(URI)
