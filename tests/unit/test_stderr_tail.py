"""A run's traceback is found in the end of its stderr, however much it wrote before."""

from __future__ import annotations

from bai_bridge.lsp.tracebacks import TAIL, StderrTail, find_error

TRACEBACK = (
    "\x1b[31m---------------------------------------------------------------------------\x1b[0m\n"
    "ZeroDivisionError                         Traceback (most recent call last)\n"
    "Cell In[3], line 4\n"
    "      2 x = 1\n"
    "----> 4 x / 0\n"
    "ZeroDivisionError: division by zero\n"
)


def test_the_traceback_after_60_mb_of_stderr_is_found_in_a_bounded_tail() -> None:
    tail = StderrTail()
    noise = "warning: something noisy happened\n" * 2000  # 68 KB a chunk
    for _ in range(900):
        tail.add(noise)
    tail.add(TRACEBACK)
    kept = tail.text()
    assert len(kept) <= TAIL
    error = find_error(kept)
    assert error is not None
    assert (error.line, error.message) == (4, "ZeroDivisionError: division by zero")


def test_one_huge_write_is_cut_to_the_tail_as_it_arrives() -> None:
    tail = StderrTail(limit=100)
    tail.add("x" * 10_000_000)
    tail.add("end\n")
    assert tail._size <= 200  # what it holds, not only what it returns
    assert tail.text() == ("x" * 10_000_000 + "end\n")[-100:]
