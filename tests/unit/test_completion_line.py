"""The kernel completes the cursor's line only, like Backend.AI's runner."""

from __future__ import annotations

from bai_bridge.local.kernel import cursor_line


def test_the_cursor_line_and_the_offset_in_it() -> None:
    code = "import pandas as pd\ndf = pd.DataFrame()\ndf.ke"
    assert cursor_line(code, len(code)) == ("df.ke", 5)
    # Text after the cursor on its line stays; later lines do not.
    assert cursor_line("a = 1\nx = df.ke(1)\nb = 2", 14) == ("x = df.ke(1)", 8)
    assert cursor_line("rock", 4) == ("rock", 4)


def test_edges_of_the_text() -> None:
    assert cursor_line("", 0) == ("", 0)
    assert cursor_line("a\n", 2) == ("", 0)  # just after a newline: an empty line
    assert cursor_line("ab\ncd", 2) == ("ab", 2)  # at the end of the first line
    assert cursor_line("ab\ncd", 99) == ("cd", 2)  # clamped to the text
    assert cursor_line("ab\ncd", -3) == ("ab", 0)
