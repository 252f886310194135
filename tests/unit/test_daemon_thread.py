"""A blocking call that never returns must not keep the process alive at exit."""

import subprocess
import sys
import textwrap

import pytest

from bai_bridge.lsp.daemon_thread import run_in_daemon_thread

STUCK_CALL = textwrap.dedent(
    """
    import asyncio, threading
    from bai_bridge.lsp.daemon_thread import run_in_daemon_thread

    async def main():
        never = threading.Event()
        try:
            await asyncio.wait_for(run_in_daemon_thread(never.wait), 0.05)
        except TimeoutError:
            print("gave up", flush=True)

    asyncio.run(main())
    """
)


def test_a_stuck_call_does_not_hold_up_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STUCK_CALL], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "gave up"


async def test_result_and_error_come_back() -> None:
    assert await run_in_daemon_thread(lambda: 6 * 7) == 42
    with pytest.raises(ZeroDivisionError):
        await run_in_daemon_thread(lambda: 1 // 0)
