"""The settings a start goes on with before the editor answers workspace/configuration.

An editor that puts the ``baiBridge`` section in initializationOptions (the VS Code extension
sends there the options it answers workspace/configuration with) gets its session's create
sent at `initialized`, not a round trip to the editor later (20 ms measured, 0.4 of a 50 ms
RTT). The answer then settles everything else. The session already on its way stays the
folder's one session: where the answer differs in what that session was made with, new
sessions follow the answer, and the person is told.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import CONFIG_SECTION, BridgeOptions, option_key, parse_options

__all__ = ["SESSION_FIELDS", "difference_notice", "session_differences", "settings_at_start"]

# What the session is, or is made with: an answer that changes them comes too late for it.
SESSION_FIELDS = (
    "endpoint",
    "session_name",
    "attach_session",
    "image",
    "resources",
    "mounts",
    "envs",
)


def settings_at_start(init_options: Any) -> BridgeOptions | None:
    """The options the session starts with before the answer: None unless the
    initializationOptions hold the ``baiBridge`` section. Their problems are said once, with
    the answer's (which may correct them)."""
    if not isinstance(init_options, Mapping):
        return None
    if not isinstance(init_options.get(CONFIG_SECTION), Mapping):
        return None
    return parse_options(init_options)[0]


def session_differences(started: BridgeOptions, settled: BridgeOptions) -> list[str]:
    """The settings (wire names) the session was started with that the answer changes."""
    return [
        option_key(name)
        for name in SESSION_FIELDS
        if getattr(started, name) != getattr(settled, name)
    ]


def difference_notice(keys: list[str]) -> str:
    later = "a new session (New Session) uses them"
    if "endpoint" in keys:
        later += "; the new endpoint, once the language server restarts"
    return (
        f"the editor's settings for {', '.join(keys)} arrived after this folder's session had "
        f"been started with the ones sent at initialization: that session stays, and {later}"
    )
