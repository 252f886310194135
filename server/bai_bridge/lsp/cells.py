"""`# %%` cells and code snippets: what text to run and where it sits in the file.

A snippet remembers the 0-based file line of its first line, so that a remote traceback's
"line k" maps back to ``first_line + k - 1``.
"""

from __future__ import annotations

import itertools
import re
import textwrap

import attrs

from .text_window import line_start

__all__ = [
    "Cell",
    "Snippet",
    "cell_at",
    "cell_snippet",
    "cells_above",
    "find_cells",
    "has_cell_markers",
    "selection_snippet",
]

# The VS Code / Jupyter / Spyder convention: a comment starting with `%%` opens a cell.
_CELL_MARKER = re.compile(r"^\s*#\s*%%")
_MARKER_AT = re.compile(r"\s*#\s*%%")  # the same, matched at a line's start within a text
# Line breaks `str.splitlines` knows besides "\n" and "\r\n" (and a lone "\r").
_OTHER_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


@attrs.frozen
class Cell:
    """Lines ``start`` (the marker line, if any) up to ``end`` (exclusive), 0-based."""

    start: int
    end: int
    title: str = ""


@attrs.frozen
class Snippet:
    code: str
    first_line: int  # 0-based file line of the snippet's first line


def find_cells(text: str) -> list[Cell]:
    """The cells of a file; code before the first marker is a cell of its own if not blank.

    A file without markers is one cell.
    """
    found = _markers(text)
    if found is None:  # line breaks other than "\n": line by line, as the snippets slice
        lines = text.splitlines()
        markers = [(i, _title(line)) for i, line in enumerate(lines) if _CELL_MARKER.match(line)]
        count = len(lines)
        preamble = any(line.strip() for line in lines[: markers[0][0]]) if markers else True
    else:
        markers, count, preamble = found
    if preamble:
        markers = [(0, ""), *[m for m in markers if m[0] != 0]]
    bounds = [*markers, (count, "")]
    return [
        Cell(start, end, title)
        for (start, title), (end, _) in itertools.pairwise(bounds)
        if end > start
    ]


def _markers(text: str) -> tuple[list[tuple[int, str]], int, bool] | None:
    """The marker lines (line, title), the line count, and whether code comes before the
    first marker: found in the whole text at C speed (splitting a 30 MB buffer into lines
    took the event loop a second a code lens request). None for a text with line breaks
    other than "\n" and "\r\n", which `str.splitlines` counts too."""
    if _other_breaks(text):
        return None
    markers: list[tuple[int, str]] = []
    line, counted, first, pos = 0, 0, 0, 0
    while (at := text.find("%%", pos)) >= 0:  # markers are rare: look only where one may be
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        end = len(text) if end < 0 else end
        if match := _MARKER_AT.match(text, start, end):
            line += text.count("\n", counted, start)
            counted = start
            first = first if markers else start
            markers.append((line, text[match.end() : end].strip()))
        pos = end + 1
    count = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    preamble = not markers or bool(text[:first].strip())
    return markers, count, preamble


def _other_breaks(text: str) -> bool:
    if any(mark in text for mark in _OTHER_BREAKS):
        return True
    return "\r" in text and text.count("\r") != text.count("\r\n")


def has_cell_markers(text: str) -> bool:
    found = _markers(text)
    if found is None:
        return any(_CELL_MARKER.match(line) for line in text.splitlines())
    return bool(found[0])


def _title(line: str) -> str:
    match = _CELL_MARKER.match(line)
    return line[match.end() :].strip() if match else ""


def cell_at(cells: list[Cell], line: int) -> Cell | None:
    for cell in cells:
        if cell.start <= line < cell.end:
            return cell
    return cells[-1] if cells and line >= cells[-1].end else None


def cells_above(cells: list[Cell], line: int) -> list[Cell]:
    """Every cell that ends before the cell holding ``line`` starts."""
    current = cell_at(cells, line)
    limit = current.start if current else line
    return [cell for cell in cells if cell.end <= limit]


def cell_snippet(text: str, cells: list[Cell]) -> Snippet | None:
    """One snippet spanning consecutive ``cells`` (their lines are contiguous in the file)."""
    if not cells:
        return None
    lines = _line_range(text, cells[0].start, cells[-1].end)
    return Snippet("\n".join(lines) + "\n", cells[0].start)


def selection_snippet(text: str, start: tuple[int, int], end: tuple[int, int]) -> Snippet:
    """What a selection runs: an empty range runs its line, a range within one line runs
    exactly that text, a range over several lines runs those whole lines, dedented."""
    (l0, c0), (l1, c1) = sorted((start, end))
    if l0 == l1:
        line = "".join(_line_range(text, l0, l0 + 1))
        return Snippet((line if c0 == c1 else line[c0:c1]) + "\n", l0)
    last = l1 if c1 > 0 else l1 - 1
    return Snippet(textwrap.dedent("\n".join(_line_range(text, l0, last + 1))) + "\n", l0)


def _line_range(text: str, first: int, stop: int) -> list[str]:
    """``text.splitlines()[first:stop]``, splitting only those lines: splitting a 30 MB
    buffer for a one-line run took the event loop 0.3 s and 100 MB."""
    if first < 0 or _other_breaks(text):
        return text.splitlines()[first:stop]
    if stop <= first or (begin := line_start(text, first)) is None:
        return []
    end = line_start(text, stop)
    return text[begin : len(text) if end is None else end].splitlines()
