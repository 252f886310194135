"""The run loop every caller shares (protocol doc §4.7): run code, follow it to the end.

`run_code` sends the code, yields each `ExecutionResult` as it arrives (its ``console`` holds
only the output produced since the previous one), continues through ``continued``,
``clean-finished`` and ``build-finished``, answers ``waiting-input`` through ``on_input``, and
stops after ``finished`` or ``exec-timeout``. If the consumer is cancelled or stops iterating
before the end, the remote run is interrupted (best effort) and the cancellation propagates.
A consumer that breaks out of the loop should close the iterator (``contextlib.aclosing``)
so that the interrupt is sent at once rather than when the iterator is collected.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from .models import BatchOptions, ExecutionResult

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["INTERRUPT_TIMEOUT", "InputCallback", "run_code"]

log = logging.getLogger(__name__)

# How long a cancelled run waits for its interrupt request before giving up on it.
INTERRUPT_TIMEOUT = 5.0

InputCallback = Callable[[str, bool], Awaitable[str]]


def _prompt(result: ExecutionResult) -> str:
    """The prompt text arrives as the stdout just before ``waiting-input`` (§4.5)."""
    texts = [getattr(item, "text", "") for item in result.console if item.kind == "stdout"]
    return texts[-1].rsplit("\n", 1)[-1] if texts else ""


async def run_code(
    kernel: Kernel,
    code: str,
    *,
    mode: str = "query",
    opts: BatchOptions | Mapping[str, Any] | None = None,
    on_input: InputCallback | None = None,
) -> AsyncIterator[ExecutionResult]:
    """Run ``code`` (``mode`` "query") or batch ``opts`` (``mode`` "batch") to its end.

    ``on_input(prompt, is_password)`` returns the text for a waiting ``input()``; without a
    callback an empty line is sent, so a run never hangs waiting for an answer.
    """
    if mode not in ("query", "batch"):
        raise ValueError(f"run mode must be 'query' or 'batch', not {mode!r}")
    finished = False
    try:
        result = await kernel.execute(None, code, mode, opts)
        while True:
            yield result
            if result.is_final:
                finished = True
                return
            step_mode, text = "continue", ""
            if result.status == "waiting-input":
                step_mode = "input"
                if on_input is not None:
                    text = await on_input(_prompt(result), result.input_options.is_password)
            result = await kernel.execute(result.run_id, text, step_mode)
    finally:
        if not finished:
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
