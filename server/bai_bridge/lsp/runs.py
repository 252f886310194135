"""One run, from the editor's point of view: output notifications, progress that cancels,
input requests, and the traceback turned into a diagnostic on the right local line."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import attrs
from lsprotocol import types

from bai_bridge.api import BackendNotFoundError, ExecutionResult, Kernel
from bai_bridge.api.models import Html, Media, Stderr, Stdout
from bai_bridge.api.runloop import RunDrop, RunLost

from . import protocol
from .server import BridgeServer
from .tracebacks import RemoteError, StderrTail, cell_numbers, find_error, in_file_terms

__all__ = ["RunHooks", "RunSpec", "judge", "run"]

log = logging.getLogger(__name__)

CREATE_TIMEOUT = 2.0  # how long a finished run waits for the client to answer a progress create

# How a run is started on a given kernel (query code or a batch exec).
Starter = Callable[[Kernel, "RunHooks"], AsyncIterator[ExecutionResult]]


class InputCancelled(Exception):
    """The person dismissed the input prompt: the run is interrupted."""


class InputHandler:
    def __init__(self, ls: BridgeServer, run_id: str, echo: Callable[[str, bool], None]) -> None:
        self.ls = ls
        self.run_id = run_id
        self.echo = echo

    async def __call__(self, prompt: str, password: bool) -> str:
        params = protocol.InputRequestParams(self.run_id, prompt, password)
        answer = await self.ls.protocol.send_request_async(protocol.INPUT_REQUEST, params)
        text = answer.get("text") if isinstance(answer, dict) else getattr(answer, "text", None)
        if text is None:
            raise InputCancelled
        self.echo(str(text), password)
        return str(text)


@attrs.frozen
class RunHooks:
    """What a starter hands the run loop: the person's answers to ``input()``, and where a
    dropped connection the run was continued after is told."""

    on_input: InputHandler
    on_drop: Callable[[RunDrop], None]


@attrs.frozen
class RunSpec:
    """What to run and how its errors map back: ``first_line`` 0-based, or a batch file."""

    uri: str
    label: str
    start: Starter
    first_line: int
    line_count: int
    remote_path: str | None = None
    file: str = ""  # the file as the person knows it, for the run's traceback


async def run(ls: BridgeServer, spec: RunSpec) -> protocol.RunResult:
    """Run to the end (or until the person cancels); never raises for a failed run."""
    sessions = await ls.session_manager()  # waits for the start; raised before anything is told
    console = _Console(ls, spec)
    result = protocol.RunResult(console.run_id, "error")
    sessions.run_started()
    try:
        async with _progress(ls, console.run_id, spec.label) as cancel:
            result = await _follow(ls, spec, console, cancel)
    finally:
        sessions.run_finished()
        console.end(result)
    return result


async def _follow(
    ls: BridgeServer, spec: RunSpec, console: _Console, cancel: _Cancel
) -> protocol.RunResult:
    # Followed in this task, not one of its own (a loop turn each way): the person's cancel
    # cancels this task, and the run loop interrupts the remote run on its way out.
    current = asyncio.current_task()
    assert current is not None
    cancel.bind(current)
    try:
        status, exit_code = await _stream(ls, spec, console)
    except asyncio.CancelledError:
        if current.cancelling() > cancel.sent:
            raise  # cancelled by someone else as well: the editor, a shutdown
        for _ in range(cancel.sent):
            current.uncancel()
        status, exit_code = "interrupted", None
    finally:
        cancel.bind(None)
    error = find_error(console.stderr.text(), spec.remote_path)
    status, error = judge(status, exit_code, error)
    _publish(ls, spec, error)
    return protocol.RunResult(console.run_id, status, exit_code)


def judge(
    status: str, exit_code: int | None, error: RemoteError | None
) -> tuple[str, RemoteError | None]:
    """The status editors show, and the error worth a diagnostic. The backend says "finished"
    even when the code raised or was interrupted (Interrupt command), and for a run that ended
    badly with a non-zero exit code: a script's own (``sys.exit(3)``), a killed kernel's
    (137), a vanished kernel's (130, the manager's fallback; protocol doc 4.2). Query runs
    that went well finish with 0, so any other code is a failure in either mode."""
    if error is not None and error.message.startswith("KeyboardInterrupt"):
        return "interrupted", None  # the person stopped it: not a problem in the code
    if status == "finished" and (error is not None or exit_code not in (0, None)):
        return "failed", error
    return status, error


async def _stream(ls: BridgeServer, spec: RunSpec, console: _Console) -> tuple[str, int | None]:
    """Follow the run, forwarding output; one retry on a fresh session if ours had vanished
    before the run started (nothing ran, so nothing runs twice)."""
    seen: list[ExecutionResult] = []
    try:
        return await _follow_once(ls, spec, console, seen)
    except RunLost as e:
        at = _clock(e.at)
        console.note(
            f"The connection dropped at {at}. The server stops a run whose execute stream"
            f" closes, so this run was stopped there: what it would have printed after {at}"
            " is lost. Run it again."
        )
        return "failed", None
    except BackendNotFoundError:
        if seen:  # it ran: the session ended under it (a manager forgets a destroyed one)
            console.note("The session ended during this run.")
            return "failed", None
        (await ls.session_manager()).forget("the session was terminated; creating a new one")
    return await _follow_once(ls, spec, console, seen)


async def _follow_once(
    ls: BridgeServer, spec: RunSpec, console: _Console, seen: list[ExecutionResult]
) -> tuple[str, int | None]:
    kernel = await (await ls.session_manager()).kernel()
    try:
        hooks = RunHooks(InputHandler(ls, console.run_id, console.echo_input), console.dropped)
        async for result in spec.start(kernel, hooks):
            seen.append(result)
            console.add(result)
    except InputCancelled:
        return "interrupted", None
    last = seen[-1] if seen else None
    return (last.status, last.exit_code) if last else ("finished", None)


class _Console:
    """A run's notifications to the editor: start, output as it arrives, end.

    The start waits ``START_DELAY`` (or the first output): a run over by then is told in one
    notification, its end, which carries what a start would. The final result's output rides
    on the end too. So a short run costs the editor one message instead of three, and nothing
    is written to it between the command and the remote run's start."""

    START_DELAY = 0.02  # well under what a person notices

    def __init__(self, ls: BridgeServer, spec: RunSpec) -> None:
        self.ls = ls
        self.spec = spec
        self.run_id = uuid.uuid4().hex[:12]
        self.stderr = StderrTail()  # for the traceback
        self.cell: int | None = None  # the run's `Cell In[n]`, once a traceback names it
        self.started = False
        self.held: list[protocol.OutputItem] = []
        loop = asyncio.get_running_loop()
        self.timer: asyncio.TimerHandle | None = loop.call_later(self.START_DELAY, self.start)

    def start(self) -> None:
        self._stop_timer()
        if not self.started:
            self.started = True
            start = protocol.Output(self.run_id, "start", label=self.spec.label, uri=self.spec.uri)
            self._notify(start)

    def add(self, result: ExecutionResult) -> None:
        items = self._items(result)
        if result.is_final:
            self.held.extend(items)
            return
        self.start()  # still going (more output to come, or waiting for input)
        if items:
            self._notify(protocol.Output(self.run_id, "output", items=items))

    def echo_input(self, text: str, password: bool) -> None:
        """Show the answer typed into ``input()`` after its prompt, as a terminal does."""
        shown = "" if password else text
        self.start()  # announced already, unless the input came within START_DELAY
        self._notify(
            protocol.Output(
                self.run_id, "output", items=[protocol.OutputItem("stdout", shown + "\n")]
            )
        )

    def dropped(self, drop: RunDrop) -> None:
        """Say, where the output stands, that the connection dropped and the run went on."""
        at = _clock(drop.at)
        text = (
            f"[bai-bridge] connection lost at {at}, back at {_clock(drop.back_at)}: the output"
            f" goes on from where the server had it (any output already on its way at {at}"
            " is lost)\n"
        )
        self.start()
        self._notify(protocol.Output(self.run_id, "output", [protocol.OutputItem("stderr", text)]))

    def note(self, text: str) -> None:
        """A line of the bridge's own about the run, shown with its output."""
        self.held.append(protocol.OutputItem("stderr", text + "\n"))

    def end(self, result: protocol.RunResult) -> None:
        self._stop_timer()
        items, self.held = self.held, []
        end = protocol.Output(
            self.run_id, "end", items, self.spec.label, self.spec.uri, result.status,
            result.exit_code,
        )  # fmt: skip
        self._notify(end)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _items(self, result: ExecutionResult) -> list[protocol.OutputItem]:
        items = []
        for item in result.console:
            if isinstance(item, Stdout):
                items.append(protocol.OutputItem("stdout", item.text))
            elif isinstance(item, Stderr):
                self.stderr.add(item.text)
                items.append(protocol.OutputItem("stderr", self._in_file_terms(item.text)))
            elif isinstance(item, Media):
                items.append(protocol.OutputItem("media", item.data, item.mime))
            elif isinstance(item, Html):
                items.append(protocol.OutputItem("html", item.html))
        return items

    def _in_file_terms(self, stderr: str) -> str:
        """A traceback's frames of the code that ran, in the file's lines (the newest cell
        number is this run's: earlier runs have smaller ones). Batch runs name the file."""
        if not self.spec.file or self.spec.remote_path is not None:
            return stderr
        self.cell = max([*cell_numbers(stderr), self.cell or 0]) or None
        if self.cell is None:
            return stderr
        return in_file_terms(stderr, self.cell, self.spec.file, self.spec.first_line)

    def _notify(self, output: protocol.Output) -> None:
        self.ls.protocol.notify(protocol.OUTPUT, output)


def _clock(when: datetime) -> str:
    """A time as the person's clock shows it."""
    return when.astimezone().strftime("%H:%M:%S")


def _publish(ls: BridgeServer, spec: RunSpec, error: RemoteError | None) -> None:
    if error is None and not ls.diagnostics.has_any(spec.uri):
        return  # nothing shown, nothing to show: spare the editor a notification
    lines = ls.workspace.get_text_document(spec.uri).lines if error is not None else []
    diagnostics = ls.diagnostics.record(
        spec.uri, spec.first_line, spec.line_count, error, [line.rstrip("\r\n") for line in lines]
    )
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=spec.uri, diagnostics=diagnostics)
    )


class _Cancel:
    """The person's cancel of a run (from its progress): cancels the task following it."""

    def __init__(self) -> None:
        self.requested = False
        self.sent = 0  # cancels delivered to the task, told apart from anyone else's
        self._task: asyncio.Task[Any] | None = None

    def bind(self, task: asyncio.Task[Any] | None) -> None:
        self._task = task
        if self.requested:
            self._send()

    def __call__(self) -> None:
        self.requested = True
        self._send()

    def _send(self) -> None:
        if self._task is not None and self._task.cancel():
            self.sent += 1


class _progress:
    """$/progress for a run; its cancel calls the yielded `_Cancel`. Always ends.

    Shown only once the run is still going after ``SHOW_AFTER`` s (a timer, so a short run
    costs no task at all): short runs cost the editor no create round trip and no
    begin/end notifications."""

    SHOW_AFTER = 0.1

    def __init__(self, ls: BridgeServer, run_id: str, title: str) -> None:
        self.ls = ls
        self.token = f"bai-bridge/run/{run_id}"
        self.title = title
        self.cancel = _Cancel()
        self.timer: asyncio.TimerHandle | None = None
        self.begun = False
        self.shower: asyncio.Task[None] | None = None  # the create is out once this exists

    async def __aenter__(self) -> _Cancel:
        window = self.ls.client_capabilities.window
        if window is not None and window.work_done_progress:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.SHOW_AFTER, self._start_showing)
        return self.cancel

    def _start_showing(self) -> None:
        self.timer = None
        self.shower = asyncio.create_task(self._show(), name=f"progress {self.token}")

    async def _show(self) -> None:
        try:
            await self.ls.work_done_progress.create_async(self.token)
        except Exception as e:  # the run goes on without a progress bar
            log.info("progress not available: %s", e)
            return
        self.ls.work_done_progress.begin(
            self.token, types.WorkDoneProgressBegin(title=self.title, cancellable=True)
        )
        self.begun = True
        future = self.ls.work_done_progress.tokens[self.token]
        loop = asyncio.get_running_loop()
        future.add_done_callback(lambda _: loop.call_soon_threadsafe(self.cancel))

    async def __aexit__(self, *exc: object) -> None:
        if self.timer is not None:
            self.timer.cancel()  # over before it was shown: never shown
            self.timer = None
        try:
            await self._settle()
        finally:
            if self.shower is not None:
                self.shower.cancel()  # no-op when done; never begins after the run is over
            if self.begun:
                self.ls.work_done_progress.end(self.token, types.WorkDoneProgressEnd())
                self.ls.work_done_progress.tokens.pop(self.token, None)

    async def _settle(self) -> None:
        """Let a progress being created begin, so it can end."""
        shower = self.shower
        if shower is None:
            return
        await asyncio.wait({shower}, timeout=CREATE_TIMEOUT)
        shower.cancel()  # no-op when done; a client that never answers loses its bar
        results = await asyncio.gather(shower, return_exceptions=True)
        if isinstance(results[0], Exception):
            log.warning("run progress failed: %r", results[0])
