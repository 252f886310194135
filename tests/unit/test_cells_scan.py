"""Finding `# %%` cells in a whole text gives what reading it line by line gives, and costs
a fraction of it on a large buffer."""

from __future__ import annotations

import itertools
import random
import re
import textwrap
import time

from bai_bridge.lsp.cells import cell_snippet, find_cells, has_cell_markers, selection_snippet

MARKER = re.compile(r"^\s*#\s*%%")


def line_by_line(text: str) -> list[tuple[int, int, str]]:
    """The reference: every line of `str.splitlines` matched on its own."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if MARKER.match(line)]
    if not starts or any(line.strip() for line in lines[: starts[0]]):
        starts = [0, *[s for s in starts if s != 0]]
    titles = {i: x[m.end() :].strip() for i, x in enumerate(lines) if (m := MARKER.match(x))}
    return [
        (start, end, titles.get(start, ""))
        for start, end in itertools.pairwise([*starts, len(lines)])
        if end > start
    ]


def test_cells_are_those_line_by_line_reading_finds() -> None:
    rng = random.Random(3)
    pieces = ["# %%", "#%% title ", "  # %% x\r\n", "x = 1", "\n", "\r\n", " ", "\t", "a"]
    pieces += ["\x0c", "\r", "# %%\n", "\n\n", "#  %%  T  \n", "\u2028", "%%", "'%%'\n"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 10)))
        found = [(c.start, c.end, c.title) for c in find_cells(text)]
        assert found == line_by_line(text), text
        assert has_cell_markers(text) == any(MARKER.match(x) for x in text.splitlines())


def test_cells_of_a_30_mb_buffer_are_found_quickly() -> None:
    text = ("# %% cell\n" + "value = [1, 2, 3]\n" * 999) * 1700
    started = time.perf_counter()
    cells = find_cells(text)
    took = time.perf_counter() - started
    assert [(c.start, c.end, c.title) for c in cells] == line_by_line(text)
    assert took < 0.5  # line by line: 0.7 s here, on the event loop at each code lens request


def lines_then_slice(text: str, start: tuple[int, int], end: tuple[int, int]) -> str:
    """The reference for a selection: the whole text split into lines, then sliced."""
    lines = text.splitlines()
    (l0, c0), (l1, c1) = sorted((start, end))
    if l0 == l1:
        line = lines[l0] if l0 < len(lines) else ""
        return (line if c0 == c1 else line[c0:c1]) + "\n"
    last = l1 if c1 > 0 else l1 - 1
    return textwrap.dedent("\n".join(lines[l0 : last + 1])) + "\n"


def test_snippets_are_those_of_the_whole_text_split_into_lines() -> None:
    rng = random.Random(5)
    pieces = ["# %%", "x = 1", "\n", "\r\n", "  ", "\t", "a", "\x0c", "\r", "# %%\n", "\n\n"]
    pieces += ["  if x:\n    y\n", "\u2028"]
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randrange(0, 12)))
        lines = text.count("\n") + 3
        start = (rng.randrange(lines), rng.randrange(6))
        end = (rng.randrange(lines), rng.randrange(6))
        assert selection_snippet(text, start, end).code == lines_then_slice(text, start, end)
        cells = find_cells(text)
        if cells:
            i = rng.randrange(len(cells))
            j = rng.randrange(i, len(cells))
            snippet = cell_snippet(text, cells[i : j + 1])
            assert snippet is not None
            whole = text.splitlines()[cells[i].start : cells[j].end]
            assert snippet.code == "\n".join(whole) + "\n"


def test_a_line_of_a_30_mb_buffer_is_run_without_splitting_the_buffer() -> None:
    text = "value = [1, 2, 3]\n" * 1_700_000
    started = time.perf_counter()
    snippet = selection_snippet(text, (1_600_000, 0), (1_600_000, 0))
    took = time.perf_counter() - started
    assert (snippet.code, snippet.first_line) == ("value = [1, 2, 3]\n", 1_600_000)
    assert took < 0.2  # splitting it: 0.3 s here, and 100 MB of lines
