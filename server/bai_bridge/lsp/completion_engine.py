"""Where completions come from, in order of preference, knowing nothing of LSP.

1. The session's own ``complete()``, bounded in time (the embedded server answers through a
   kernel subshell, so this works during a run too).
2. If the server does not support completion (real managers answer 500 or null; a 26.x
   cluster's Python runner answers nothing): a silent runtime query listing names, made only
   while none of our runs is going on, cached. The query is never cancelled by a
   completion's deadline, nor does it interrupt anything: queued behind a cell someone else
   runs, it would interrupt their cell. One listing at a time; only the completion that
   started it waits for it.
3. Always as the fallback: names the session reported earlier, and jedi on the buffer.

jedi is loaded when the person first edits a document (or by the first fallback, if that comes
first), never at start-up: loaded and warmed it keeps ~35 MiB resident, which a language server
nobody types into never needs; loading it while they type keeps its cold start (its import and
the builtin stubs: 0.5-2 s) off the first completion that needs it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading

import attrs

from bai_bridge.api import CompletionOptions, Kernel

from .daemon_thread import run_in_daemon_thread
from .session import SessionManager
from .static_completion import Candidate, from_known_names, jedi_candidates, word_before
from .tasks import BackgroundTasks

__all__ = ["CompletionEngine", "CompletionRequest"]

log = logging.getLogger(__name__)

_OWNER = re.compile(r"((?:[A-Za-z_]\w*\.)*)([A-Za-z_]\w*)?$")
_MARK = "\x1ebai-bridge-names\x1e"
_MAX_KNOWN = 20_000
# How long a completion waits for a warm jedi (its cold start, 0.5-2 s, once, is waited for):
# it sees a bounded window of the buffer (completion.py), so a call takes well under a second.
STATIC_LIMIT = 3.0
# Lists globals, or the attributes of a dotted name, without defining anything new.
_NAMES_QUERY = (
    "print({mark!r} + __import__('json').dumps(sorted(n for n in "
    "({expr}) if not n.startswith('__'))))"
)


@attrs.frozen
class CompletionRequest:
    source: str
    line: int  # 0-based
    col: int  # 0-based, in code points
    path: str | None = None
    # Split once: a completion reads the cursor's line several times, and splitting a large
    # file for each read cost milliseconds a keystroke.
    _lines: list[str] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_lines", self.source.split("\n"))

    @property
    def line_text(self) -> str:
        return self._lines[self.line] if self.line < len(self._lines) else ""

    @property
    def prefix_code(self) -> str:
        return "\n".join([*self._lines[: self.line], self.line_text[: self.col]])

    @property
    def owner(self) -> str:
        """The dotted expression before the word (``df`` in ``df.ke``), or ""."""
        match = _OWNER.search(self.line_text[: self.col])
        return match.group(1).rstrip(".") if match else ""


@attrs.frozen
class CompletionAnswer:
    candidates: list[Candidate]
    incomplete: bool


class CompletionEngine:
    def __init__(self, sessions: SessionManager, timeout: float, tasks: BackgroundTasks) -> None:
        self.sessions = sessions
        self.timeout = timeout
        self.tasks = tasks
        self.known_names: set[str] = set()
        self._listing: asyncio.Task[None] | None = None
        self._jedi = threading.Lock()  # jedi is not thread-safe: one call at a time
        self._jedi_count = threading.Lock()
        self._jedi_calls = 0  # running or waiting for `_jedi`
        self._jedi_warm = False  # jedi has answered once: its cold start is over
        self._warm_up_claimed = False

    def claim_warm_up(self) -> bool:
        """True the first time only: whoever gets it runs `warm_up`."""
        first, self._warm_up_claimed = not self._warm_up_claimed, True
        return first

    async def warm_up(self) -> None:
        """Load jedi and the builtin stubs (what makes a first completion slow) on a buffer of
        builtins only; warming on ``os`` kept ~11 MiB more stubs resident."""
        await self._static(CompletionRequest("value = 1\nval", 1, 3))

    async def _static(
        self, request: CompletionRequest, limit: float | None = None
    ) -> list[Candidate]:
        """jedi's candidates, or [] after ``limit`` s once jedi has answered a first time
        (the call goes on in its thread and leaves its caches warm; jedi's cold start is
        waited for, as it happens once) or when one call runs and another waits already."""
        with self._jedi_count:
            if self._jedi_calls >= 2:
                return []  # it would only queue behind them: keystrokes must not pile up
            self._jedi_calls += 1
        # A daemon thread: a jedi call stuck on its dead helper process must not keep the
        # language server alive at exit.
        call = run_in_daemon_thread(lambda: self._jedi_locked(request))
        try:
            return await asyncio.wait_for(call, limit if self._jedi_warm else None)
        except TimeoutError:
            log.info("static completion over its %s s: answered without it", limit)
            return []

    def _jedi_locked(self, request: CompletionRequest) -> list[Candidate]:
        # Locked in the thread, so a cancelled request cannot let two calls overlap.
        try:
            with self._jedi:
                found = jedi_candidates(request.source, request.line, request.col, request.path)
                self._jedi_warm = True
                return found
        finally:
            with self._jedi_count:
                self._jedi_calls -= 1

    async def complete(self, request: CompletionRequest) -> CompletionAnswer:
        kernel = self.sessions.kernel_if_ready
        runtime: list[Candidate] = []
        incomplete = kernel is None
        if kernel is not None:
            try:
                runtime = await asyncio.wait_for(self._runtime(kernel, request), self.timeout)
            except TimeoutError:
                incomplete = True
            except Exception as e:  # the fallback below still answers
                log.info("runtime completion failed: %s", e)
                incomplete = True
        if runtime:
            return CompletionAnswer(runtime, incomplete)
        return CompletionAnswer(await self._fallback(request), incomplete)

    async def _runtime(self, kernel: Kernel, request: CompletionRequest) -> list[Candidate]:
        if kernel.completion_supported is not False:
            options = CompletionOptions(
                row=request.line,
                col=request.col,
                line=request.line_text,
                post=request.line_text[request.col :],
            )
            names = await kernel.complete(request.prefix_code, options)
            if _supported(kernel) is not False:
                return _normalize(names, request, "session")
        if self.sessions.busy or (self._listing is not None and not self._listing.done()):
            return []
        self._listing = self.tasks.spawn(self._query_names(kernel, request.owner), "list-names")
        # Shielded: the completion's deadline ends the wait, not the query.
        await asyncio.shield(self._listing)
        return []  # the fallback reads the fresh names

    async def _query_names(self, kernel: Kernel, owner: str) -> None:
        expr = f"dir({owner})" if owner else "list(globals())"
        code = _NAMES_QUERY.format(mark=_MARK, expr=expr)
        text = ""
        async for result in kernel.run(code, interrupt=False):
            text += "".join(getattr(item, "text", "") for item in result.console)
        if _MARK not in text:
            return
        try:
            names = json.loads(text.split(_MARK, 1)[1].strip())
        except ValueError:
            return
        prefix = f"{owner}." if owner else ""
        if len(self.known_names) > _MAX_KNOWN:
            self.known_names.clear()
        self.known_names.update(prefix + str(n) for n in names)

    async def _fallback(self, request: CompletionRequest) -> list[Candidate]:
        known = from_known_names(self.known_names, request.line_text, request.col)
        static = await self._static(request, STATIC_LIMIT)
        seen = {c.label for c in known}
        return known + [c for c in static if c.label not in seen]


def _supported(kernel: Kernel) -> bool | None:
    """Whether the server answers completion (None: not asked yet)."""
    return kernel.completion_supported


def _normalize(names: list[str], request: CompletionRequest, source: str) -> list[Candidate]:
    """Labels that replace just the word being typed, de-duplicated, in the given order.

    Kernels answer either the last segment (``keys``) or the whole dotted name (``df.keys``).
    """
    owner = request.owner
    word = word_before(request.line_text, request.col)
    seen: set[str] = set()
    found = []
    for name in names:
        label = name[len(owner) + 1 :] if owner and name.startswith(owner + ".") else name
        if not label or label in seen or not label.startswith(word):
            continue
        seen.add(label)
        found.append(Candidate(label, source))
    return found
