"""Errors of the session layer, free of HTTP; the app maps them to problem+json per version."""

from __future__ import annotations

from typing import Any


class SessionError(Exception):
    """Base of everything the registry and sessions raise on purpose."""


class InvalidParams(SessionError):
    """The request's parameters are wrong (answered as invalid-api-params)."""

    def __init__(self, msg: str, data: Any = None) -> None:
        super().__init__(msg)
        self.msg = msg
        self.data = data


class BodySchemaInvalid(InvalidParams):
    """The body fails a 26.x manager's request model (answered as generic-bad-request)."""


class NoSuchObject(SessionError):
    """A create request names something this server does not have (a 26.x ObjectNotFound)."""

    def __init__(self, object_name: str, msg: str) -> None:
        super().__init__(msg)
        self.object_name = object_name


class NoSuchSession(SessionError):
    def __init__(self, sid: str) -> None:
        super().__init__(f"no session matches {sid!r}")
        self.sid = sid


class AmbiguousSession(SessionError):
    def __init__(self, sid: str, matches: list[dict[str, str]]) -> None:
        super().__init__(f"{len(matches)} sessions match {sid!r}")
        self.matches = matches


class SessionExists(SessionError):
    def __init__(self, name: str, existing_id: str) -> None:
        super().__init__(f"a session named {name!r} already exists")
        self.existing_id = existing_id


class UnknownImage(SessionError):
    def __init__(self, image: str, available: list[str]) -> None:
        super().__init__(f"no kernel serves the image {image!r}")
        self.image = image
        self.available = available


class Forbidden(SessionError):
    pass


class NoSuchGroup(SessionError):
    def __init__(self, group: str) -> None:
        super().__init__(f"no group named {group!r}")
        self.group = group


class KernelUnavailable(SessionError):
    """The session has no running kernel (it is starting, restarting or has died)."""


class KernelFailure(SessionError):
    """Starting, restarting or talking to the kernel failed; ``action`` names the step."""

    def __init__(self, action: str, msg: str) -> None:
        super().__init__(msg)
        self.action = action
