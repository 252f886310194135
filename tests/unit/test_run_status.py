"""The status a run reports to editors, from the backend's status and the traceback it left."""

from __future__ import annotations

from bai_bridge.lsp.runs import judge
from bai_bridge.lsp.tracebacks import RemoteError


def test_a_clean_run_stays_finished() -> None:
    assert judge("finished", 0, None) == ("finished", None)


def test_a_traceback_makes_a_finished_run_failed_with_its_diagnostic() -> None:
    error = RemoteError(3, "ZeroDivisionError: division by zero")
    assert judge("finished", None, error) == ("failed", error)


def test_a_keyboard_interrupt_is_an_interrupted_run_without_a_diagnostic() -> None:
    assert judge("finished", 130, RemoteError(1, "KeyboardInterrupt")) == ("interrupted", None)
    stopped = RemoteError(1, "KeyboardInterrupt: ")
    assert judge("interrupted", None, stopped) == ("interrupted", None)


def test_the_backends_own_final_statuses_are_kept() -> None:
    error = RemoteError(2, "ValueError: x")
    assert judge("exec-timeout", None, error) == ("exec-timeout", error)
    assert judge("interrupted", None, None) == ("interrupted", None)


def test_a_non_zero_exit_code_makes_a_finished_run_failed() -> None:
    """A script's ``sys.exit(3)``, a killed kernel (137), a vanished one (130): no traceback
    to go by, only the code."""
    for code in (3, 137, 130, -1):
        assert judge("finished", code, None) == ("failed", None)
    assert judge("finished", None, None) == ("finished", None)  # a backend that sends none
