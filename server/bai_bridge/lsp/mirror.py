"""The session's namespace, mirrored in the language server: what completion, hover and
signature help read, during runs and at any distance, without running code per keystroke.

One silent snapshot after each run ends (and when a session is ready or restarted), through
the same query-mode execute any Backend.AI manager offers; the kernel side is
``namespace_probe.py``, read once. Replies after the first carry only what changed. Attributes
one level deeper are fetched lazily, once per path and snapshot, never while a run goes on.
Knows nothing of LSP.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import zlib
from importlib import resources
from typing import Any

import attrs
from cattrs import Converter
from cattrs.gen import make_dict_structure_fn, override

from bai_bridge.api import Kernel

from .session import SessionManager
from .silent_query import silent_stdout
from .tasks import BackgroundTasks

__all__ = ["Entry", "NamespaceMirror", "probe_code"]

log = logging.getLogger(__name__)

MARK = "\x1ebai-bridge-namespace\x1e"
PROBE_TIMEOUT = 15.0  # the kernel bounds its own work (BUDGET); this bounds the round trip
BUDGET = 0.3  # seconds of kernel time a snapshot may take describing names
# The snapshot after a run describes names for this long; the rest come with their kind and
# type, and one more snapshot (BUDGET) right after describes them: names are there at once.
FIRST_BUDGET = 0.005
FOLLOW_UPS = 1
# Of JSON a snapshot describes with attributes (later names: lazily), before compression
# (about tenfold on a typical namespace); the encoded reply is cut to MAX_WIRE in any case.
MAX_BYTES = 128 * 1024
MAX_WIRE = 60 * 1024
ATTR_KINDS = {"m": "module", "c": "class", "f": "function", "p": "property", "v": "instance"}


@attrs.frozen
class Entry:
    """One object of the session, as `namespace_probe.describe` reports it."""

    kind: str  # module | class | function | property | instance
    type: str
    repr: str | None = None
    len: int | None = None
    shape: list[int] | None = None
    dtype: str | None = None
    columns: list[str] | None = None
    signature: str | None = None
    doc: str | None = None
    attrs: dict[str, str] | None = None  # name -> kind letter (ATTR_KINDS); None: ask lazily
    attrs_truncated: bool = False
    class_attrs: str | None = None  # the key of its class's list in the reply's `classes`
    error: str | None = None


def _converter() -> Converter:
    converter = Converter()
    hook = make_dict_structure_fn(
        Entry,
        converter,
        attrs_truncated=override(rename="attrsTruncated"),
        class_attrs=override(rename="classAttrs"),
    )
    converter.register_structure_hook(Entry, hook)
    return converter


def probe_code(source: str, request: dict[str, Any], *, cached: bool) -> str:
    """Query code running the probe on the user's namespace without defining a name in it:
    the whole probe, or (``cached``) a call of the one an earlier query left in the kernel,
    answering ``{"missing": true}`` if it is not there (the kernel was restarted behind us).
    A statement whose value is None: ``_`` and ``Out`` stay as they were."""
    runner = f"_bai_bridge_probe_{hashlib.sha256(source.encode()).hexdigest()[:12]}"
    payload = json.dumps({**request, "runner": runner})
    if cached:
        source = (
            f"import sys\nrunner = sys.modules.get({runner!r})\n"
            f"if runner is None: print({MARK!r} + '{{\"missing\": true}}')\n"
            "else: runner.main(USER_NS, REQUEST)\n"
        )
    return (
        f"exec({source!r}, {{'__name__': '__bai_bridge_probe__', "
        f"'REQUEST': __import__('json').loads({payload!r}), 'USER_NS': globals()}})\n"
    )


def parse_reply(text: str) -> dict[str, Any] | None:
    """The JSON after the marker in a probe run's stdout (``z`` + base64: zlib-compressed
    JSON), or None."""
    if MARK not in text:
        return None
    line = text.split(MARK, 1)[1].split("\n", 1)[0]
    try:
        if line.startswith("z"):
            line = zlib.decompress(base64.b64decode(line[1:], validate=True)).decode()
        reply = json.loads(line)
    except (ValueError, binascii.Error, zlib.error):
        return None
    return reply if isinstance(reply, dict) else None


def _inherit(entry: Entry, classes: dict[str, dict[str, str]]) -> Entry:
    """``entry`` with its class's attributes under its own (which win)."""
    inherited = classes.get(entry.class_attrs) if entry.class_attrs else None
    if inherited is None:
        return entry
    return attrs.evolve(entry, attrs={**inherited, **(entry.attrs or {})}, class_attrs=None)


class NamespaceMirror:
    def __init__(self, sessions: SessionManager, tasks: BackgroundTasks) -> None:
        self.sessions = sessions
        self.entries: dict[str, Entry] = {}
        self.classes: dict[str, dict[str, str]] = {}  # class key -> its attribute list
        self.deeper: dict[str, Entry | None] = {}  # dotted path -> entry (None: not reachable)
        self._asked: set[str] = set()  # paths described since their root last changed
        self.generation: str | None = None
        self.truncated = False
        self.probes = 0  # probe runs sent to the kernel (snapshots and lazy fetches)
        self._tasks = tasks
        self._source = resources.files(__package__).joinpath("namespace_probe.py").read_text()
        self._converter = _converter()
        self._refreshing: asyncio.Task[None] | None = None
        self._names_in: asyncio.Future[None] | None = None  # the loop's first snapshot is in
        self._waited_for: asyncio.Task[None] | None = None  # the snapshot a completion awaited
        self._silent_kernel = False  # the probe ran and answered nothing (not Python?)
        self._probe_in_kernel = False  # sent once to this kernel: later queries only call it
        self._again = False
        self._failing = False

    # -- keeping it fresh -------------------------------------------------------------------

    def attach(self) -> None:
        """Refresh after every run and whenever a session is ready."""
        self.sessions.on_available.append(self.request_refresh)
        self.sessions.on_ready.append(self._on_ready)

    async def _on_ready(self, kernel: Kernel, reason: str) -> None:
        if reason != "reused":  # a new or restarted kernel: nothing of the old one is left
            self.clear()
        self._silent_kernel = False
        self._probe_in_kernel = False
        self.request_refresh()

    def clear(self) -> None:
        self.entries.clear()
        self.classes.clear()
        self.deeper.clear()
        self._asked.clear()
        self.generation = None

    def request_refresh(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            self._again = True  # one more after this one: the run that just ended is newer
            return
        self._names_in = asyncio.get_running_loop().create_future()
        self._refreshing = self._tasks.spawn(self._refresh_loop(), "namespace-snapshot")

    async def _refresh_loop(self) -> None:
        self._again, follow_ups, more = True, 0, False
        try:
            while self._again or (more and follow_ups < FOLLOW_UPS):
                follow_ups += 0 if self._again else 1
                budget = FIRST_BUDGET if self._again else BUDGET
                self._again = False
                more = await self.refresh(budget)
                if self._names_in is not None and not self._names_in.done():
                    self._names_in.set_result(None)
        finally:
            if self._names_in is not None and not self._names_in.done():
                self._names_in.set_result(None)

    async def refresh(self, budget: float = BUDGET) -> bool:
        """One snapshot; True if it described some names only in part (ask again)."""
        kernel = self.sessions.kernel_if_ready
        if kernel is None or self.sessions.busy or self._silent_kernel:
            return False  # the run's end asks again
        request = {"op": "snapshot", "since": self.generation, "budget": budget}
        reply = await self._ask(kernel, {**request, "maxBytes": MAX_BYTES, "maxWire": MAX_WIRE})
        if reply is None:
            return False
        self.apply(reply)
        log.debug(
            "snapshot: %d entries (%s), %s s in the kernel",
            len(reply.get("entries") or {}),
            "full" if reply.get("full") else "changes",
            reply.get("seconds"),
        )
        return bool(reply.get("more"))

    def apply(self, reply: dict[str, Any]) -> None:
        try:
            entries = {
                str(name): self._converter.structure(raw, Entry)
                for name, raw in dict(reply.get("entries") or {}).items()
            }
            classes = self._converter.structure(
                reply.get("classes") or {}, dict[str, dict[str, str]]
            )
        except Exception as e:
            self._fail(f"a malformed snapshot ({e})")
            return
        if reply.get("full"):
            self.clear()
        self.classes.update(classes)
        entries = {name: _inherit(entry, self.classes) for name, entry in entries.items()}
        for name in [*entries, *(str(n) for n in reply.get("removed") or [])]:
            self.entries.pop(name, None)
            self._forget_deeper(name)
        self.entries.update(entries)
        self.generation = str(reply.get("generation")) if reply.get("generation") else None
        self.truncated = bool(reply.get("truncated"))
        self._failing = False

    def _forget_deeper(self, root: str) -> None:
        for path in [p for p in self.deeper if p.split(".", 1)[0] == root]:
            del self.deeper[path]
        self._asked = {p for p in self._asked if p.split(".", 1)[0] != root}

    async def _ask(self, kernel: Kernel, request: dict[str, Any]) -> dict[str, Any] | None:
        """One silent probe run; None (logged once until one succeeds) if it failed."""
        reply = await self._run_probe(kernel, request)
        if reply is not None and reply.get("missing"):
            self._probe_in_kernel = False  # restarted behind our back: send the probe itself
            reply = await self._run_probe(kernel, request)
        if reply is not None:
            self._probe_in_kernel = True
            return reply
        if self._silent_kernel:
            self._fail("the namespace snapshot gave no answer; not asked again in this session")
        return None

    async def _run_probe(self, kernel: Kernel, request: dict[str, Any]) -> dict[str, Any] | None:
        self.probes += 1
        code = probe_code(self._source, request, cached=self._probe_in_kernel)
        try:
            text = await silent_stdout(kernel, code, PROBE_TIMEOUT)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            self._fail(f"the namespace snapshot failed ({e!r})")
            return None
        reply = parse_reply(text)
        # It ran and said nothing: not a Python kernel, or one that cannot run the probe. Not
        # asked again until the session is new or restarted: each try is a query in the
        # person's kernel.
        self._silent_kernel = reply is None
        return reply

    def _fail(self, why: str) -> None:
        if not self._failing:
            log.warning("%s; the last good one is kept", why)
        self._failing = True

    async def settled(self, limit: float) -> None:
        """Wait (up to ``limit`` s) for a snapshot under way: a run that just ended is in it
        (its names at least: the snapshot describing the rest is not waited for). Once per
        snapshot: one queued behind a cell another client runs costs one completion that
        wait, not every keystroke until that cell ends."""
        task, names = self._refreshing, self._names_in
        if task is not None and not task.done() and task is not self._waited_for:
            self._waited_for = task
            await asyncio.wait({names or task}, timeout=limit)

    async def current(self, limit: float) -> None:
        """Wait (up to ``limit`` s) for a snapshot under way, whoever waited for it before: a
        Variables view asks as a run ends, when that run's snapshot has just started. During a
        run none is under way (the run's end starts it), so this returns at once."""
        task = self._refreshing
        if task is not None and not task.done():
            await asyncio.wait({task}, timeout=limit)

    # -- reading it -------------------------------------------------------------------------

    def lookup(self, path: str) -> Entry | None:
        """What the mirror knows of a name or dotted path, without asking the kernel."""
        return self.entries.get(path) if "." not in path else self.deeper.get(path)

    def attribute_kind(self, path: str) -> str | None:
        """The kind of ``a.b`` from its owner's attribute list (no deeper fetch needed)."""
        owner, _, name = path.rpartition(".")
        entry = self.lookup(owner) if owner else None
        letter = (entry.attrs or {}).get(name) if entry is not None else None
        return ATTR_KINDS.get(letter) if letter else None

    async def describe(self, path: str) -> Entry | None:
        """The entry of a dotted path, fetched once per snapshot if the mirror lacks it; never
        while a run goes on (the probe would wait behind it, and so would the person)."""
        known = self.lookup(path)
        if (known is not None and known.attrs is not None) or path in self._asked:
            return known
        kernel = self.sessions.kernel_if_ready
        if kernel is None or self.sessions.busy or self._silent_kernel:
            return known
        if path.split(".", 1)[0] not in self.entries:
            return known
        self._asked.add(path)
        reply = await self._ask(kernel, {"op": "describe", "path": path})
        if reply is None:
            return None
        raw = reply.get("entry")
        try:
            entry = self._converter.structure(raw, Entry) if isinstance(raw, dict) else None
        except Exception as e:
            self._fail(f"a malformed description of {path} ({e})")
            return None
        if "." in path:
            self.deeper[path] = entry
        elif entry is not None:
            self.entries[path] = entry
        return entry


def summary(entry: Entry) -> str:
    """One line for a completion's detail: the type and what is cheap to know of its size."""
    parts = [entry.type.rpartition(".")[2] if entry.kind == "instance" else entry.kind]
    if entry.shape is not None:
        parts.append("(" + ", ".join(str(n) for n in entry.shape) + ")")
    elif entry.len is not None:
        parts.append(f"len {entry.len}")
    if entry.dtype:
        parts.append(entry.dtype)
    if entry.signature and entry.kind == "function":
        parts.append(entry.signature)
    return " ".join(parts)
