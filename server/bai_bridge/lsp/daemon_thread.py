"""Run a blocking call on a daemon thread and await its result.

For calls that may never return (jedi waits forever on its helper process if that process
died): `asyncio.to_thread` would put them on the default executor, whose threads asyncio.run
and the interpreter both wait for at exit, so the language server would outlive its client.
A daemon thread is left behind instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["run_in_daemon_thread"]

T = TypeVar("T")


async def run_in_daemon_thread(call: Callable[[], T]) -> T:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def deliver(settle: Callable[[], object]) -> None:
        def unless_cancelled() -> None:
            if not future.done():  # the caller may have given up meanwhile
                settle()

        with contextlib.suppress(RuntimeError):  # the loop closed: nobody is waiting
            loop.call_soon_threadsafe(unless_cancelled)

    def work() -> None:
        try:
            result = call()
        except BaseException as e:
            deliver(functools.partial(future.set_exception, e))
        else:
            deliver(functools.partial(future.set_result, result))

    threading.Thread(target=work, name="bai-bridge-blocking-call", daemon=True).start()
    return await future
