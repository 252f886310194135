"""Errors of the embedded server, rendered as problem+json (protocol doc §6).

Handlers raise a `Problem`; the error middleware (in the app factory) renders it. Nothing
else turns into a response body, so every error a client sees has the same shape.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from aiohttp import web

PROBLEM_BASE = "https://api.backend.ai/probs/"


class Problem(Exception):
    """An error answered as ``application/problem+json``."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-server-error"
    title: ClassVar[str] = "Internal server error."

    def __init__(
        self,
        msg: str | None = None,
        *,
        data: Any = None,
        slug: str | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__(msg or title or self.title)
        self.msg = msg
        self.data = data
        # Some slugs and titles changed between manager releases (protocol doc §6.2, §8):
        # the version-aware caller picks them per request.
        self.type_slug = slug or self.slug
        self.type_title = title or self.title

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": PROBLEM_BASE + self.type_slug, "title": self.type_title}
        if self.msg is not None:
            body["msg"] = self.msg
        if self.data is not None:
            body["data"] = self.data
        return body

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body()),
            content_type="application/problem+json",
        )


class GenericBadRequest(Problem):
    status, slug, title = 400, "generic-bad-request", "Bad request."


# The title a 26.x manager gives generic-bad-request when a body fails its request model.
SCHEMA_INVALID_TITLE = "Invalid or Missing API Parameters."


class InvalidAuthParams(Problem):
    status, slug = 400, "invalid-auth-params"
    title = "Missing or invalid authorization parameters."


class AuthFailed(Problem):
    status, slug, title = 401, "auth-failed", "Credential/signature mismatch."


class InvalidAPIParams(Problem):
    status, slug, title = 400, "invalid-api-params", "Missing or invalid API parameters."


class GenericForbidden(Problem):
    status, slug, title = 403, "generic-forbidden", "Forbidden operation."


class InsufficientPrivilege(Problem):
    status, slug, title = 403, "insufficient-privilege", "Insufficient privilege."


class ObjectNotFound(Problem):
    """Not-found for v6.20220315 and later; older versions use the subclasses' slugs."""

    status, slug, title = 404, "object-not-found", "No such object."


class SessionNotFound(ObjectNotFound):
    title = "No such session."


class ImageNotFound(ObjectNotFound):
    title = "No such environment image."


class GroupNotFound(ObjectNotFound):
    title = "No such user group."


class TooManySessionsMatched(Problem):
    status, slug, title = 404, "too-many-sessions-matched", "Too many sessions matched."


class SessionAlreadyExists(Problem):
    status, slug = 400, "session-already-exists"
    title = "The session already exists but you requested different parameters."


class URLNotFound(Problem):
    status, slug, title = 404, "url-not-found", "Unknown URL path."


class MethodNotAllowed(Problem):
    status, slug, title = 405, "method-not-allowed", "HTTP Method Not Allowed."


class PayloadTooLarge(Problem):
    status, slug, title = 413, "request-too-large", "The request is too large."


class Deprecated(Problem):
    status, slug, title = 400, "deprecated", "This API is deprecated."


class KernelExecutionFailed(Problem):
    status, slug, title = 500, "kernel-execution-failed", "Executing user code has failed."


class KernelCreationFailed(Problem):
    status, slug, title = 500, "kernel-creation-failed", "Kernel creation has failed."


class KernelRestartFailed(Problem):
    status, slug, title = 500, "kernel-restart-failed", "Kernel restart has failed."


class InternalServerError(Problem):
    pass


class RateLimitExceeded(Problem):
    status, slug = 429, "rate-limit-exceeded"
    title = "You have reached your API query rate limit."


class GenericNotFound(Problem):
    status, slug, title = 404, "generic-not-found", "Unknown URL path."


class ServiceUnavailable(Problem):
    status, slug, title = 503, "service-unavailable", "Serivce unavailable."


class KernelDestructionFailed(Problem):
    status, slug, title = 500, "kernel-destruction-failed", "Kernel destruction has failed."
