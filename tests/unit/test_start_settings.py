"""Which initializationOptions let the session start before workspace/configuration answers,
and which differences in that answer the session started can no longer follow."""

from __future__ import annotations

from typing import Any

import pytest

from bai_bridge.lsp.config import parse_options
from bai_bridge.lsp.start_settings import (
    difference_notice,
    session_differences,
    settings_at_start,
)


@pytest.mark.parametrize(
    "init_options",
    [None, {}, {"sessionName": "loose-keys"}, {"baiBridge": None}, {"baiBridge": "image"}, []],
)
def test_only_the_baibridge_section_starts_the_session_before_the_answer(
    init_options: Any,
) -> None:
    assert settings_at_start(init_options) is None


def test_the_section_is_read_and_a_bad_value_costs_only_itself() -> None:
    started = settings_at_start({"baiBridge": {"sessionName": "from-init", "maxFileSize": -1}})
    assert started is not None
    assert started.session_name == "from-init"
    assert started.max_file_size == 50 * 1024 * 1024  # said with the answer's problems


def test_differences_name_only_what_the_session_was_made_with() -> None:
    init = {"baiBridge": {"sessionName": "from-init", "image": "python:3.12"}}
    started = settings_at_start(init)
    assert started is not None
    same, _ = parse_options(init, {"image": "python:3.12", "completionTimeout": 3})
    assert session_differences(started, same) == []
    answer = {"sessionName": "from-answer", "envs": {"A": "1"}, "syncOnStart": False}
    settled, _ = parse_options(init, answer)
    assert session_differences(started, settled) == ["sessionName", "envs"]


def test_a_new_endpoint_is_said_to_take_a_restart() -> None:
    assert "restarts" in difference_notice(["endpoint", "image"])
    assert "restarts" not in difference_notice(["image"])
