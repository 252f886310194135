"""The window completion sees: the cursor's line and whole lines around it, bounded."""

from __future__ import annotations

import time

from bai_bridge.lsp.text_window import line_start, window


def test_line_start_finds_each_line_and_none_past_the_end() -> None:
    lines = [f"x{i} = {i}" for i in range(200_000)]
    source = "\n".join(lines)
    for line in (0, 1, 7, 99_999, 199_999):
        start = line_start(source, line)
        assert start is not None
        assert source[start:].split("\n", 1)[0] == lines[line]
    assert line_start(source, 200_000) is None
    assert line_start(source, 2**31 - 1) is None
    assert line_start(source, -1) is None
    assert line_start("a\n", 1) == 2  # the empty last line exists


def test_the_window_keeps_whole_lines_within_its_bounds() -> None:
    source = "\n".join(f"line{i:03d}" for i in range(100))  # 8 characters a line
    found = window(source, 50, before=20, after=20, max_line=100)
    assert found is not None
    assert found.line_text == "line050"
    assert found.text == "\n".join(f"line{i:03d}" for i in (48, 49, 50, 51, 52))
    assert found.text.split("\n")[found.line] == "line050"
    whole = window(source, 3, before=10_000, after=10_000, max_line=100)
    assert whole is not None
    assert whole.text == source
    assert whole.line == 3


def test_no_window_past_the_end_or_on_an_overlong_line() -> None:
    assert window("a = 1\n", 5, 100, 100, 100) is None
    assert window("x" * 1000 + "\n", 0, 100, 100, max_line=999) is None


def test_the_window_costs_little_on_a_50_mb_buffer() -> None:
    source = "value = [1, 2, 3]\n" * 3_000_000  # 54 MB
    started = time.perf_counter()
    found = window(source, 2_999_999, before=50_000, after=10_000, max_line=100_000)
    took = time.perf_counter() - started
    assert found is not None
    assert len(found.text) <= 50_000 + 18
    assert took < 1.0  # about 70 ms here; splitting the buffer into lines took a second
