"""Map a remote traceback back to a line of the local file that was run.

IPython (8, 9) names the frames of interactive code ``Cell In[n], line k``; older kernels use
``<ipython-input-n-hash>`` with ``line k`` (``File <ipython-input-n-..>:k`` or
``File "<ipython-input-n-..>", line k``); file runs (Run File in the session, a job) print a
plain Python traceback naming the remote file. The highest ``n`` is the run itself (earlier
cells have smaller numbers); its last frame is the innermost line of the code that ran.
"""

from __future__ import annotations

import re
from collections import deque

import attrs

__all__ = [
    "TAIL",
    "RemoteError",
    "StderrTail",
    "cell_numbers",
    "find_error",
    "in_file_terms",
    "strip_ansi",
]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CELL_FRAME = re.compile(r"Cell In\s*\[(\d+)\],\s*line (\d+)")
_INPUT_FRAME = re.compile(r"<ipython-input-(\d+)-[0-9a-f]+>\"?(?::|, line )(\d+)")
# The same frame header as IPython colours it (escape codes between its words), and the
# numbered lines of its listing (`      3 code`, `----> 4 code`).
_C = r"(?:\x1b\[[0-9;]*m)*"
_COLOURED_CELL_FRAME = re.compile(rf"Cell{_C}\s{_C}In\s*\[(\d+)\]{_C}, line (\d+)")
_LISTING_LINE = re.compile(rf"^({_C}(?:-*> ?)?[ \t]*{_C})(\d+)(?={_C} )", re.MULTILINE)
_FILE_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
# The summary line: `ZeroDivisionError: division by zero`, `KeyboardInterrupt`, ...
_SUMMARY = re.compile(
    r"^[A-Za-z_][\w.]*(?:(?:Error|Exception|Interrupt|Exit|Warning)(?::.*)?|: .*)$"
)


@attrs.frozen
class RemoteError:
    """Where the run failed: ``line`` is 1-based within the code that ran (or the file)."""

    line: int
    message: str
    path: str | None = None  # set for file runs: the remote file named by the frame


TAIL = 1 << 20  # characters of a run's stderr searched for its traceback (one is far smaller)


class StderrTail:
    """The end of a run's stderr, where its traceback is: a run that writes gigabytes to
    stderr must not have them kept in memory, nor scanned on the event loop when it ends."""

    def __init__(self, limit: int = TAIL) -> None:
        self.limit = limit
        self._parts: deque[str] = deque()
        self._size = 0

    def add(self, text: str) -> None:
        self._parts.append(text[-self.limit :])
        self._size += len(self._parts[-1])
        while self._size - len(self._parts[0]) >= self.limit:
            self._size -= len(self._parts.popleft())

    def text(self) -> str:
        return "".join(self._parts)[-self.limit :]


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def find_error(stderr: str, remote_path: str | None = None) -> RemoteError | None:
    """The failing line of a traceback in ``stderr`` (ANSI colours allowed), if any.

    ``remote_path``: for file runs (in the session or as a job), the file that ran, relative
    to the work dir; its frames are used.
    """
    text = strip_ansi(stderr)
    message = _summary(text)
    if message is None:
        return None
    line = _interactive_line(text) if remote_path is None else _file_line(text, remote_path)
    return None if line is None else RemoteError(line, message, remote_path)


def cell_numbers(stderr: str) -> list[int]:
    """The ``n`` of every ``Cell In[n]`` frame in ``stderr``."""
    return [int(n) for n, _ in _CELL_FRAME.findall(strip_ansi(stderr))]


def in_file_terms(stderr: str, cell: int, file: str, first_line: int) -> str:
    """``stderr`` with the frames of the code that ran as cell ``cell`` (and their listings)
    naming ``file`` and its lines (``first_line`` 0-based is the cell's line 1), as the
    person sees them in the editor; other frames are left as they are."""
    parts = _COLOURED_CELL_FRAME.split(stderr)
    # split() gives: text, n, line, text, n, line, text, ...
    out = [parts[0]]
    for i in range(1, len(parts), 3):
        number, line, body = int(parts[i]), int(parts[i + 1]), parts[i + 2]
        if number != cell:
            out.append(f"Cell In[{number}], line {line}{body}")
            continue
        out.append(f"{file}, line {first_line + line}")
        # The listing runs up to the next blank line (the next frame or the error itself).
        listing, blank, rest = body.partition("\n\n")
        shifted = _LISTING_LINE.sub(lambda m: _renumbered(m, first_line), listing)
        out.append(shifted + blank + rest)
    return "".join(out)


def _renumbered(match: re.Match[str], first_line: int) -> str:
    """A listing line's number in the file's terms, in the same column where it fits."""
    prefix, number = match.group(1), str(first_line + int(match.group(2)))
    wider = len(number) - len(match.group(2))
    if wider > 0 and prefix.endswith(" " * (wider + 1)):
        prefix = prefix[:-wider]
    return prefix + number


def _interactive_line(text: str) -> int | None:
    frames = [(int(n), int(k)) for n, k in _CELL_FRAME.findall(text)]
    frames += [(int(n), int(k)) for n, k in _INPUT_FRAME.findall(text)]
    if not frames:
        return None
    newest = max(n for n, _ in frames)
    return [k for n, k in frames if n == newest][-1]


def _file_line(text: str, remote_path: str) -> int | None:
    """The innermost frame's line in the file itself, named in full or relative to the work
    dir (not a namesake in another folder: `lib/main.py` is no frame of `app/main.py`)."""
    hits = [
        int(k)
        for path, k in _FILE_FRAME.findall(text)
        if path == remote_path or path.endswith("/" + remote_path)
    ]
    return hits[-1] if hits else None


def _summary(text: str) -> str | None:
    for raw in reversed(text.splitlines()):
        line = raw.strip()
        if line and _SUMMARY.match(line):
            return line
    return None
