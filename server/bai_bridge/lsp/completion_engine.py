"""Where completions come from, knowing nothing of LSP; merged in this order, de-duplicated.

1. The namespace mirror (`mirror.NamespaceMirror`): instant, during runs and at any distance,
   with each name's kind and type. Attributes one level deeper than the snapshot are fetched
   once per path, only while no run is going on.
2. The session's own ``complete()`` where the server answers it, bounded in time (the
   embedded server answers through a kernel subshell, so this works during a run too; real
   managers answer 500 or null, and are not asked again); only when the mirror has nothing
   for the word (a round trip a keystroke, on a cluster 50+ ms away). The answer is then
   marked incomplete, so the next keystroke asks again.
3. jedi on the buffer, for what its own code defines and has not run yet; not after the dot
   of a live object the mirror knows (its attributes are the live object's own). When the
   mirror has names to show, jedi is waited for only STATIC_GRACE (it takes 20-200 ms a call
   on a busy machine): the answer goes out without it, marked incomplete, and jedi's answer,
   kept when it comes, serves the next keystrokes of the same word (filtered by it).

The session's ``complete()`` and jedi are asked at the same time.

No completion runs code in the user's kernel per keystroke.

jedi is loaded when the person first edits a document (or by the first completion, if that
comes first), never at start-up: loaded and warmed it keeps ~35 MiB resident, which a language
server nobody types into never needs; loading it while they type keeps its cold start (its
import and the builtin stubs: 0.5-2 s) off the first completion that needs it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import attrs

from bai_bridge.api import CompletionOptions, Kernel

from .daemon_thread import run_in_daemon_thread
from .mirror import NamespaceMirror
from .mirror_completion import from_mirror
from .session import SessionManager
from .static_completion import Candidate, jedi_candidates, word_before
from .static_help import StaticHover, StaticSignature, jedi_hover, jedi_signature

__all__ = ["CompletionEngine", "CompletionRequest"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_OWNER = re.compile(r"((?:[A-Za-z_]\w*\.)*)([A-Za-z_]\w*)?$")
# How long a completion waits for a warm jedi (its cold start, 0.5-2 s, once, is waited for):
# it sees a bounded window of the buffer (completion.py), so a call takes well under a second.
STATIC_LIMIT = 3.0
STATIC_GRACE = 0.005  # how long jedi is waited for when the mirror has names to show


@attrs.frozen
class _Typing:
    """Where a word is being typed: the buffer without that word, and the word's place. Two
    keystrokes of one word share it, so jedi's answer for the first serves the second."""

    path: str | None
    line: int
    start: int
    around: str  # the source with the word cut out


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
    def lines(self) -> list[str]:
        return self._lines

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
    def __init__(self, sessions: SessionManager, mirror: NamespaceMirror, timeout: float) -> None:
        self.sessions = sessions
        self.mirror = mirror
        self.timeout = timeout
        self._jedi = threading.Lock()  # jedi is not thread-safe: one call at a time
        self._jedi_count = threading.Lock()
        self._jedi_calls = 0  # running or waiting for `_jedi`
        self._jedi_warm = False  # jedi has answered once: its cold start is over
        self._warm_up_claimed = False
        self._kept: tuple[_Typing, str, list[Candidate]] | None = None  # jedi's last answer
        self.extra_paths: tuple[str, ...] = ()  # the session-only packages' sources

    def claim_warm_up(self) -> bool:
        """True the first time only: whoever gets it runs `warm_up`."""
        first, self._warm_up_claimed = not self._warm_up_claimed, True
        return first

    async def warm_up(self) -> None:
        """Load jedi and the builtin stubs (what makes a first completion slow) on a buffer of
        builtins only; warming on ``os`` kept ~11 MiB more stubs resident."""
        await self._static(CompletionRequest("value = 1\nval", 1, 3))

    async def _static(
        self, request: CompletionRequest, limit: float | None = None, *, grace: bool = False
    ) -> list[Candidate] | None:
        """jedi's candidates, or None after ``limit`` s once jedi has answered a first time
        (the call goes on in its thread and leaves its caches warm, and its answer is kept for
        the next keystroke; jedi's cold start is waited for, as it happens once, unless
        ``grace``) or when one call runs and another waits already."""
        extra = self.extra_paths

        def candidates() -> list[Candidate]:
            found = jedi_candidates(request.source, request.line, request.col, request.path, extra)
            self._kept = (_typing(request), _word(request), found)
            return found

        return await self._in_jedi(candidates, limit, grace=grace)

    async def static_hover(self, request: CompletionRequest) -> StaticHover | None:
        """jedi's description of the name at the cursor, if it is one of the session-only
        packages' (the mirror describes everything else)."""
        extra = self.extra_paths
        if not extra:
            return None
        where = (request.source, request.line, request.col, request.path)
        return await self._in_jedi(lambda: jedi_hover(*where, extra), STATIC_LIMIT)

    async def static_signature(self, request: CompletionRequest) -> StaticSignature | None:
        """jedi's signature of the call at the cursor, if its callee is a session-only
        package's."""
        extra = self.extra_paths
        if not extra:
            return None
        where = (request.source, request.line, request.col, request.path)
        return await self._in_jedi(lambda: jedi_signature(*where, extra), STATIC_LIMIT)

    async def _in_jedi(
        self, work: Callable[[], T], limit: float | None, *, grace: bool = False
    ) -> T | None:
        """``work()`` (a jedi call) in its thread, one at a time; None past ``limit`` s (see
        `_static`) or when one call runs and another waits already (``grace``: when one runs).
        """
        with self._jedi_count:
            if grace and self._jedi_calls:
                return None  # one is under way: the other slot is for a completion needing it
            if self._jedi_calls >= 2:
                return None  # it would only queue behind them: keystrokes must not pile up
            self._jedi_calls += 1
        # A daemon thread: a jedi call stuck on its dead helper process must not keep the
        # language server alive at exit.
        call = run_in_daemon_thread(lambda: self._jedi_locked(work))
        try:
            return await asyncio.wait_for(call, limit if self._jedi_warm or grace else None)
        except TimeoutError:
            if not grace:
                log.info("static analysis over its %s s: answered without it", limit)
            return None

    def _jedi_locked(self, work: Callable[[], T]) -> T:
        # Locked in the thread, so a cancelled request cannot let two calls overlap.
        try:
            with self._jedi:
                found = work()
                self._jedi_warm = True
                return found
        finally:
            with self._jedi_count:
                self._jedi_calls -= 1

    async def complete(self, request: CompletionRequest) -> CompletionAnswer:
        kernel = self.sessions.kernel_if_ready
        await self.mirror.settled(self.timeout)
        if request.owner:
            await self._bounded(self.mirror.describe(request.owner))
        live = from_mirror(self.mirror, request.owner, word_before(request.line_text, request.col))
        supported = kernel is not None and kernel.completion_supported is not False
        # What the mirror knows needs no round trip: the session is asked only for the rest.
        asking = supported and not live
        remote = self._bounded(self._remote(kernel, request)) if kernel and asking else _none()
        # The live object's own attributes leave jedi nothing to add, and inferring them
        # statically (``frame.`` walks pandas) cost 200 ms a keystroke here.
        owner_known = bool(request.owner) and bool(live)
        kept = self._kept_for(request)
        static: Coroutine[Any, Any, list[Candidate] | None]
        if owner_known or kept is not None:
            static = _value(kept or [])
        else:
            limit = STATIC_GRACE if live else STATIC_LIMIT
            static = self._static(request, limit, grace=bool(live))
        answer, found = await asyncio.gather(remote, static)
        incomplete = kernel is None or (supported and answer is None) or found is None
        return CompletionAnswer(_merged(live, answer or [], found or []), incomplete)

    def _kept_for(self, request: CompletionRequest) -> list[Candidate] | None:
        """jedi's kept answer, if it was for an earlier keystroke of this word, narrowed."""
        kept = self._kept
        if kept is None or kept[0] != _typing(request):
            return None
        word = _word(request)
        if not word.lower().startswith(kept[1].lower()):
            return None
        return [c for c in kept[2] if c.label.lower().startswith(word.lower())]

    async def _bounded(self, work: Coroutine[Any, Any, T]) -> T | None:
        """``work``'s answer within the completion timeout, or None (logged) if it had none."""
        try:
            return await asyncio.wait_for(work, self.timeout)
        except TimeoutError:
            return None
        except Exception as e:  # the other sources still answer
            log.info("runtime completion failed: %s", e)
            return None

    async def _remote(self, kernel: Kernel, request: CompletionRequest) -> list[Candidate]:
        options = CompletionOptions(
            row=request.line,
            col=request.col,
            line=request.line_text,
            post=request.line_text[request.col :],
        )
        names = await kernel.complete(request.prefix_code, options)
        return _normalize(names, request, "session")


async def _none() -> None:
    return None


async def _value(candidates: list[Candidate]) -> list[Candidate] | None:
    return candidates


def _word(request: CompletionRequest) -> str:
    return word_before(request.line_text, request.col)


def _typing(request: CompletionRequest) -> _Typing:
    word = _word(request)
    start = request.col - len(word)
    line = request.line_text
    lines = [*request.lines[: request.line], line[:start] + line[request.col :]]
    return _Typing(
        request.path, request.line, start, "\n".join(lines + request.lines[request.line + 1 :])
    )


def _merged(*sources: list[Candidate]) -> list[Candidate]:
    seen: set[str] = set()
    merged = []
    for candidates in sources:
        for candidate in candidates:
            if candidate.label not in seen:
                seen.add(candidate.label)
                merged.append(candidate)
    return merged


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
