"""The status a run reports to editors, from the backend's status and the traceback it left."""

from __future__ import annotations

from bai_bridge.lsp.runs import judge
from bai_bridge.lsp.tracebacks import RemoteError


def test_a_clean_run_stays_finished() -> None:
    assert judge("finished", None) == ("finished", None)


def test_a_traceback_makes_a_finished_run_failed_with_its_diagnostic() -> None:
    error = RemoteError(3, "ZeroDivisionError: division by zero")
    assert judge("finished", error) == ("failed", error)


def test_a_keyboard_interrupt_is_an_interrupted_run_without_a_diagnostic() -> None:
    assert judge("finished", RemoteError(1, "KeyboardInterrupt")) == ("interrupted", None)
    assert judge("interrupted", RemoteError(1, "KeyboardInterrupt: ")) == ("interrupted", None)


def test_the_backends_own_final_statuses_are_kept() -> None:
    error = RemoteError(2, "ValueError: x")
    assert judge("exec-timeout", error) == ("exec-timeout", error)
    assert judge("interrupted", None) == ("interrupted", None)
