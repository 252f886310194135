"""A traceback's frames of the run itself name the file and its lines; others stay."""

from __future__ import annotations

from bai_bridge.lsp.tracebacks import cell_numbers, in_file_terms

PLAIN = """ValueError                                Traceback (most recent call last)
Cell In[7], line 2
      1 x = 1
----> 2 helper(x)

Cell In[3], line 2, in helper(x)
      1 def helper(x):
----> 2     raise ValueError(x)

ValueError: 1
"""


def test_only_the_runs_own_frame_is_put_in_file_terms() -> None:
    assert cell_numbers(PLAIN) == [7, 3]
    shown = in_file_terms(PLAIN, 7, "train.py", 40)
    assert "train.py, line 42\n     41 x = 1\n----> 42 helper(x)\n" in shown
    assert "Cell In[3], line 2, in helper(x)\n      1 def helper(x):\n----> 2 " in shown
    assert shown.endswith("ValueError: 1\n")


def test_text_without_the_runs_cell_is_unchanged() -> None:
    assert in_file_terms(PLAIN, 9, "train.py", 40) == PLAIN
    assert in_file_terms("no traceback here\n", 1, "a.py", 0) == "no traceback here\n"
