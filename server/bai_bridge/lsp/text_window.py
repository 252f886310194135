"""A bounded piece of a buffer around a line, found without splitting the buffer.

Completion reads the cursor's line and what comes before it; on a 50 MB buffer splitting it
into lines took about a second and hundreds of MB each keystroke, and jedi and the session's
complete() on the whole of it took seconds more. Both see a window around the cursor instead:
what a completion needs is nearby, and the window's cost does not grow with the buffer.
"""

from __future__ import annotations

import attrs

__all__ = ["Window", "line_start", "window"]

_BLOCK = 1 << 16  # newlines are counted a block at a time, at C speed


@attrs.frozen
class Window:
    text: str  # whole lines of the buffer, the cursor's among them
    line: int  # the cursor's line in ``text`` (0-based)
    line_text: str  # the cursor's line


def line_start(source: str, line: int) -> int | None:
    """The offset where 0-based ``line`` starts; None if ``source`` has fewer lines."""
    if line < 0:
        return None
    pos, seen, size = 0, 0, len(source)
    while seen < line:
        end = min(pos + _BLOCK, size)
        here = source.count("\n", pos, end)
        if seen + here >= line:
            break  # it starts within this block
        if end == size:
            return None
        seen, pos = seen + here, end
    while seen < line:
        pos = source.index("\n", pos) + 1
        seen += 1
    return pos


def window(source: str, line: int, before: int, after: int, max_line: int) -> Window | None:
    """Whole lines around ``line``: up to ``before`` characters before it and ``after`` after
    it. None when there is no such line or it is longer than ``max_line`` (no code a person
    completes in: a minified bundle, a data file)."""
    start = line_start(source, line)
    if start is None:
        return None
    end = source.find("\n", start)
    end = len(source) if end < 0 else end
    if end - start > max_line:
        return None
    low = 0
    if start > before:
        cut = source.find("\n", start - before, start)
        low = cut + 1 if cut >= 0 else start
    high = len(source)
    if high - end > after:
        high = max(source.rfind("\n", end, end + after), end)
    return Window(source[low:high], source.count("\n", low, start), source[start:end])
