"""Map a remote traceback back to a line of the local file that was run.

IPython (8, 9) names the frames of interactive code ``Cell In[n], line k``; older kernels use
``<ipython-input-n-hash>`` with ``line k`` (``File <ipython-input-n-..>:k`` or
``File "<ipython-input-n-..>", line k``); batch runs print a plain Python traceback naming
the remote file. The highest ``n`` is the run itself (earlier cells have smaller numbers);
its last frame is the innermost line of the code that ran.
"""

from __future__ import annotations

import re

import attrs

__all__ = ["RemoteError", "find_error", "strip_ansi"]

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CELL_FRAME = re.compile(r"Cell In\s*\[(\d+)\],\s*line (\d+)")
_INPUT_FRAME = re.compile(r"<ipython-input-(\d+)-[0-9a-f]+>\"?(?::|, line )(\d+)")
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
    path: str | None = None  # set for batch runs: the remote file named by the frame


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def find_error(stderr: str, remote_path: str | None = None) -> RemoteError | None:
    """The failing line of a traceback in ``stderr`` (ANSI colours allowed), if any.

    ``remote_path``: for batch runs, the remote file that ran; its frames are used.
    """
    text = strip_ansi(stderr)
    message = _summary(text)
    if message is None:
        return None
    line = _interactive_line(text) if remote_path is None else _file_line(text, remote_path)
    return None if line is None else RemoteError(line, message, remote_path)


def _interactive_line(text: str) -> int | None:
    frames = [(int(n), int(k)) for n, k in _CELL_FRAME.findall(text)]
    frames += [(int(n), int(k)) for n, k in _INPUT_FRAME.findall(text)]
    if not frames:
        return None
    newest = max(n for n, _ in frames)
    return [k for n, k in frames if n == newest][-1]


def _file_line(text: str, remote_path: str) -> int | None:
    name = remote_path.rsplit("/", 1)[-1]
    hits = [
        int(k) for path, k in _FILE_FRAME.findall(text) if path == name or path.endswith("/" + name)
    ]
    return hits[-1] if hits else None


def _summary(text: str) -> str | None:
    for raw in reversed(text.splitlines()):
        line = raw.strip()
        if line and _SUMMARY.match(line):
            return line
    return None
