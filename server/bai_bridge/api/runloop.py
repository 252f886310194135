"""The run loop every caller shares (protocol doc §4.7, §5.3): run code, follow it to the end.

`run_code` sends the code, yields each `ExecutionResult` as it arrives (its ``console`` holds
only the output produced since the previous one), continues through ``continued``,
``clean-finished`` and ``build-finished``, answers ``waiting-input`` through ``on_input``, and
stops after ``finished`` or ``exec-timeout``. If the consumer is cancelled or stops iterating
before the end, the remote run is interrupted (best effort; unless ``interrupt`` is False) and
the cancellation propagates.
A consumer that breaks out of the loop should close the iterator (``contextlib.aclosing``)
so that the interrupt is sent at once rather than when the iterator is collected.

With ``stream`` a run goes over the execute WebSocket (§5.3): output pushed every 0.2 s
instead of at the end of each 2 s HTTP window, no request per step, but a new connection
(and handshake) per run, where the HTTP loop reuses a kept-alive one, unless the kernel keeps
the next run's socket connected (`Kernel.keep_execute_socket`): then a run costs one round
trip. A server
that refuses the WebSocket (or never finishes its handshake) gets the HTTP loop (§4.7)
instead, from then on.

A connection that drops mid-run does not lose the run: the loop waits for the server (up to
`RESUME_WITHIN`) and continues the run by its id (``mode: "continue"``, §4.7) where the
server has it; ``on_drop`` hears when it dropped and came back. Over the WebSocket that needs
the run's id in its frames, which only the embedded server sends (a manager interrupts a run
whose execute stream closes, §5.3 step 4): without it the run is lost at the drop and
`RunLost` says when.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import attrs

from .errors import BackendAPIError, BackendClientError, BackendStreamBroken
from .models import BatchOptions, ExecutionResult

if TYPE_CHECKING:
    from .kernel import Kernel
    from .stream_execute import ExecuteStream

__all__ = [
    "INTERRUPT_TIMEOUT",
    "RESUME_WITHIN",
    "STREAM_CONNECT_TIMEOUT",
    "InputCallback",
    "RunDrop",
    "RunLost",
    "run_code",
]

log = logging.getLogger(__name__)

# How long a cancelled run waits for its interrupt request before giving up on it.
INTERRUPT_TIMEOUT = 5.0
# How long the execute WebSocket's handshake may take before the run goes over HTTP (a proxy
# that swallows WebSocket upgrades); nothing runs until the handshake is done.
STREAM_CONNECT_TIMEOUT = 10.0
# How long a run whose connection dropped waits for the server before it is given up, and
# the waits between its tries to continue the run.
RESUME_WITHIN = 60.0
RESUME_BACKOFF = (0.2, 0.5, 1.0, 2.0, 4.0)

InputCallback = Callable[[str, bool], Awaitable[str]]
Options = BatchOptions | Mapping[str, Any] | None


@attrs.frozen
class RunDrop:
    """The connection dropped during a run at ``at`` and was back at ``back_at``; the run
    was continued from where the server had it."""

    at: datetime
    back_at: datetime


DropCallback = Callable[[RunDrop], None]


class RunLost(BackendStreamBroken):
    """The run's execute stream dropped at ``at`` and the server gave no way to continue the
    run (no run id): a manager interrupts it then, so nothing after ``at`` was produced."""

    def __init__(self, at: datetime, error: BaseException) -> None:
        super().__init__(f"the execute stream dropped mid-run at {at:%H:%M:%S} ({error})")
        self.at = at


def _prompt(result: ExecutionResult) -> str:
    """The prompt text arrives as the stdout just before ``waiting-input`` (§4.5)."""
    texts = [getattr(item, "text", "") for item in result.console if item.kind == "stdout"]
    return texts[-1].rsplit("\n", 1)[-1] if texts else ""


async def _answer(result: ExecutionResult, on_input: InputCallback | None) -> str:
    """The text for a waiting ``input()``: the callback's, else an empty line."""
    if on_input is None:
        return ""
    return await on_input(_prompt(result), result.input_options.is_password)


async def run_code(
    kernel: Kernel,
    code: str,
    *,
    mode: str = "query",
    opts: Options = None,
    on_input: InputCallback | None = None,
    stream: bool = False,
    interrupt: bool = True,
    on_drop: DropCallback | None = None,
) -> AsyncIterator[ExecutionResult]:
    """Run ``code`` (``mode`` "query") or batch ``opts`` (``mode`` "batch") to its end.

    ``on_input(prompt, is_password)`` returns the text for a waiting ``input()``; without a
    callback an empty line is sent, so a run never hangs waiting for an answer. ``stream``
    tries the execute WebSocket first. ``interrupt`` False: leaving early interrupts nothing
    (the session interrupts whatever it runs then, which for a run still queued behind
    someone else's is theirs). ``on_drop`` is told of each drop the run survived.
    """
    if mode not in ("query", "batch"):
        raise ValueError(f"run mode must be 'query' or 'batch', not {mode!r}")
    if stream and not interrupt:  # the server interrupts a run whose WebSocket closes early
        raise ValueError("a run over the execute WebSocket cannot be left without interrupting")
    opened, refused = await _open_stream(kernel, code, mode, opts) if stream else (None, False)
    resume = _Resume(kernel, on_drop)
    steps: AsyncGenerator[ExecutionResult, None] = (
        _follow_stream(opened, on_input, resume)
        if opened is not None
        else _follow_http(
            kernel, code, mode, opts, on_input, resume, refused=refused, interrupt=interrupt
        )
    )
    async with contextlib.aclosing(steps):  # leaving early closes (and interrupts) at once
        async for result in steps:
            yield result


async def _open_stream(
    kernel: Kernel, code: str, mode: str, opts: Options
) -> tuple[ExecuteStream | None, bool]:
    """The run's execute WebSocket, or None, and whether that is because this server does
    not take one."""
    from .stream_execute import StreamNotStarted

    if kernel.execute_stream_supported is False:
        return None, True
    try:
        opened = await kernel.stream_execute(
            code, mode=mode, opts=opts, connect_timeout=STREAM_CONNECT_TIMEOUT
        )
    except BackendAPIError as e:  # the handshake was answered, but not with a WebSocket
        log.info("execute WebSocket refused (%s); running over HTTP", e)
    except TimeoutError:
        log.info("execute WebSocket handshake timed out; running over HTTP")
    except StreamNotStarted as e:  # nothing ran; HTTP says why (e.g. a 413 with the limit)
        log.info("%s; running over HTTP", e)
        return None, False
    else:
        return opened, False
    return None, True


class _Resume:
    """Continuing a run by its id after its connection dropped (see the module's doc)."""

    def __init__(self, kernel: Kernel, on_drop: DropCallback | None) -> None:
        self.kernel = kernel
        self.on_drop = on_drop

    async def step(self, run_id: str | None) -> ExecutionResult:
        """The run's next window (``continue``), a drop waited out."""
        try:
            return await self.kernel.execute(run_id, "", "continue")
        except BackendClientError as e:
            return await self.after_drop(run_id, datetime.now(UTC), e)

    async def after_drop(
        self, run_id: str | None, at: datetime, error: BackendClientError
    ) -> ExecutionResult:
        """Try to continue the run until the server answers or `RESUME_WITHIN` is over
        (then ``error``, or the last one, is raised)."""
        log.info(
            "run %s: the connection dropped (%s); continuing it when it is back", run_id, error
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESUME_WITHIN
        for delay in itertools.chain(RESUME_BACKOFF, itertools.repeat(RESUME_BACKOFF[-1])):
            if loop.time() + delay > deadline:
                raise error
            await asyncio.sleep(delay)
            try:
                result = await self.kernel.execute(run_id, "", "continue")
            except BackendClientError as e:
                error = e
                continue
            if self.on_drop is not None:
                self.on_drop(RunDrop(at, datetime.now(UTC)))
            return result
        raise AssertionError("unreachable")  # the backoff never ends


async def _follow_stream(
    stream: ExecuteStream, on_input: InputCallback | None, resume: _Resume
) -> AsyncGenerator[ExecutionResult, None]:
    """Read the server's frames to ``finished``; the server continues by itself (§5.3).

    Closing the socket before the end makes the server interrupt the run (§5.3 step 4). A
    socket that drops mid-run is followed by continuing the run over HTTP, where the frames
    carried its id; otherwise `RunLost` is raised.
    """
    run_id: str | None = None
    try:
        try:
            while (result := await stream.receive()) is not None:
                run_id = result.run_id or run_id
                yield result
                if result.is_final:
                    return
                if result.status == "waiting-input":
                    await stream.send_input(await _answer(result, on_input))
            raise BackendStreamBroken("execute stream closed before the run finished")
        except BackendStreamBroken as e:
            dropped: BackendStreamBroken = e
    finally:
        await stream.close()
    at = datetime.now(UTC)
    if run_id is None:
        raise RunLost(at, dropped) from dropped
    first = await resume.after_drop(run_id, at, dropped)
    async for result in _continue_http(first, on_input, resume):
        yield result


async def _follow_http(
    kernel: Kernel,
    code: str,
    mode: str,
    opts: Options,
    on_input: InputCallback | None,
    resume: _Resume,
    *,
    refused: bool,
    interrupt: bool,
) -> AsyncGenerator[ExecutionResult, None]:
    """The HTTP loop (§4.7): one request per step. ``refused``: the WebSocket was, so once
    this run has started the kernel is known to run over HTTP only."""
    finished = False
    try:
        first = await kernel.execute(None, code, mode, opts)
        if refused:
            kernel.execute_stream_supported = False
        async for result in _continue_http(first, on_input, resume):
            yield result
        finished = True
    finally:
        if not finished and interrupt:
            await _interrupt(kernel)


async def _continue_http(
    result: ExecutionResult, on_input: InputCallback | None, resume: _Resume
) -> AsyncGenerator[ExecutionResult, None]:
    """``result`` and the run's next ones to its end, over HTTP (a drop waited out)."""
    kernel = resume.kernel
    while True:
        yield result
        if result.is_final:
            return
        if result.status == "waiting-input":  # an input may have arrived: never sent twice
            result = await kernel.execute(result.run_id, await _answer(result, on_input), "input")
        else:
            result = await resume.step(result.run_id)


async def _interrupt(kernel: Kernel) -> None:
    """Best-effort interrupt that survives the cancellation that triggered it."""
    task = asyncio.ensure_future(kernel.interrupt())
    try:
        await asyncio.wait_for(asyncio.shield(task), INTERRUPT_TIMEOUT)
    except asyncio.CancelledError:
        task.cancel()
        raise
    except Exception as e:
        log.warning("could not interrupt the run in %s: %s", kernel.kernel_id, e)
