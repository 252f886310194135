"""`# %%` cells and code snippets: what text to run and where it sits in the file.

A snippet remembers the 0-based file line of its first line, so that a remote traceback's
"line k" maps back to ``first_line + k - 1``.
"""

from __future__ import annotations

import itertools
import re
import textwrap

import attrs

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
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if _CELL_MARKER.match(line)]
    if not starts or any(line.strip() for line in lines[: starts[0]]):
        starts = [0, *[s for s in starts if s != 0]]
    bounds = [*starts, len(lines)]
    return [
        Cell(start, end, _title(lines[start]))
        for start, end in itertools.pairwise(bounds)
        if end > start
    ]


def has_cell_markers(text: str) -> bool:
    return any(_CELL_MARKER.match(line) for line in text.splitlines())


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
    lines = text.splitlines()
    return Snippet("\n".join(lines[cells[0].start : cells[-1].end]) + "\n", cells[0].start)


def selection_snippet(text: str, start: tuple[int, int], end: tuple[int, int]) -> Snippet:
    """What a selection runs: an empty range runs its line, a range within one line runs
    exactly that text, a range over several lines runs those whole lines, dedented."""
    lines = text.splitlines()
    (l0, c0), (l1, c1) = sorted((start, end))
    if (l0, c0) == (l1, c1):
        return Snippet((lines[l0] if l0 < len(lines) else "") + "\n", l0)
    if l0 == l1:
        return Snippet((lines[l0] if l0 < len(lines) else "")[c0:c1] + "\n", l0)
    last = l1 if c1 > 0 else l1 - 1
    return Snippet(textwrap.dedent("\n".join(lines[l0 : last + 1])) + "\n", l0)
