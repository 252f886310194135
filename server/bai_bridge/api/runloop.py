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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import BackendAPIError, BackendStreamBroken
from .models import BatchOptions, ExecutionResult

if TYPE_CHECKING:
    from .kernel import Kernel
    from .stream_execute import ExecuteStream

__all__ = ["INTERRUPT_TIMEOUT", "STREAM_CONNECT_TIMEOUT", "InputCallback", "run_code"]

log = logging.getLogger(__name__)

# How long a cancelled run waits for its interrupt request before giving up on it.
INTERRUPT_TIMEOUT = 5.0
# How long the execute WebSocket's handshake may take before the run goes over HTTP (a proxy
# that swallows WebSocket upgrades); nothing runs until the handshake is done.
STREAM_CONNECT_TIMEOUT = 10.0

InputCallback = Callable[[str, bool], Awaitable[str]]
Options = BatchOptions | Mapping[str, Any] | None


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
) -> AsyncIterator[ExecutionResult]:
    """Run ``code`` (``mode`` "query") or batch ``opts`` (``mode`` "batch") to its end.

    ``on_input(prompt, is_password)`` returns the text for a waiting ``input()``; without a
    callback an empty line is sent, so a run never hangs waiting for an answer. ``stream``
    tries the execute WebSocket first. ``interrupt`` False: leaving early interrupts nothing
    (the session interrupts whatever it runs then, which for a run still queued behind
    someone else's is theirs).
    """
    if mode not in ("query", "batch"):
        raise ValueError(f"run mode must be 'query' or 'batch', not {mode!r}")
    if stream and not interrupt:  # the server interrupts a run whose WebSocket closes early
        raise ValueError("a run over the execute WebSocket cannot be left without interrupting")
    opened, refused = await _open_stream(kernel, code, mode, opts) if stream else (None, False)
    steps: AsyncGenerator[ExecutionResult, None] = (
        _follow_stream(opened, on_input)
        if opened is not None
        else _follow_http(kernel, code, mode, opts, on_input, refused=refused, interrupt=interrupt)
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


async def _follow_stream(
    stream: ExecuteStream, on_input: InputCallback | None
) -> AsyncGenerator[ExecutionResult, None]:
    """Read the server's frames to ``finished``; the server continues by itself (§5.3).

    Closing the socket before the end makes the server interrupt the run (§5.3 step 4).
    """
    try:
        while (result := await stream.receive()) is not None:
            yield result
            if result.is_final:
                return
            if result.status == "waiting-input":
                await stream.send_input(await _answer(result, on_input))
        raise BackendStreamBroken("execute stream closed before the run finished")
    finally:
        await stream.close()


async def _follow_http(
    kernel: Kernel,
    code: str,
    mode: str,
    opts: Options,
    on_input: InputCallback | None,
    *,
    refused: bool,
    interrupt: bool,
) -> AsyncGenerator[ExecutionResult, None]:
    """The HTTP loop (§4.7): one request per step. ``refused``: the WebSocket was, so once
    this run has started the kernel is known to run over HTTP only."""
    finished = False
    try:
        result = await kernel.execute(None, code, mode, opts)
        if refused:
            kernel.execute_stream_supported = False
        while True:
            yield result
            if result.is_final:
                finished = True
                return
            step_mode, text = "continue", ""
            if result.status == "waiting-input":
                step_mode, text = "input", await _answer(result, on_input)
            result = await kernel.execute(result.run_id, text, step_mode)
    finally:
        if not finished and interrupt:
            await _interrupt(kernel)


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
