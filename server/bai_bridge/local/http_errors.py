"""Session-layer errors and aiohttp's own errors as problem+json, per API version (§6, §8)."""

from __future__ import annotations

from aiohttp import web

from bai_bridge.local import errors, problems
from bai_bridge.local.body_guard import too_large
from bai_bridge.local.versioning import ApiVersion

# Manager 22.03 (API v6.20220315) folded the specific not-found types into object-not-found.
OBJECT_NOT_FOUND_SINCE = ApiVersion.parse("v6.20220315")


def not_found_slug(version: ApiVersion, legacy_v4: str, legacy: str) -> str:
    if version.major <= 4:
        return legacy_v4
    return legacy if version < OBJECT_NOT_FOUND_SINCE else "object-not-found"


def problem_for(exc: errors.SessionError, version: ApiVersion) -> problems.Problem:
    match exc:
        case errors.BodySchemaInvalid():
            return problems.GenericBadRequest(
                exc.msg, data=exc.data, title=problems.SCHEMA_INVALID_TITLE
            )
        case errors.InvalidParams():
            return problems.InvalidAPIParams(exc.msg, data=exc.data)
        case errors.NoSuchSession():
            slug = not_found_slug(version, "kernel-not-found", "session-not-found")
            title = "No such kernel." if version.major <= 4 else "No such session."
            return problems.SessionNotFound(str(exc), slug=slug, title=title)
        case errors.AmbiguousSession():
            return problems.TooManySessionsMatched(str(exc), data={"matches": exc.matches})
        case errors.SessionExists():
            if version.major <= 4:
                return problems.SessionAlreadyExists(str(exc), slug="kernel-already-exists")
            return problems.SessionAlreadyExists(
                str(exc), data={"existingSessionId": exc.existing_id}
            )
        case errors.UnknownImage():
            slug = not_found_slug(version, "image-not-found", "image-not-found")
            data = {"image": exc.image, "available": exc.available}
            return problems.ImageNotFound(str(exc), data=data, slug=slug)
        case errors.NoSuchObject():
            return problems.ObjectNotFound(str(exc), title=f"No such {exc.object_name}.")
        case errors.Forbidden():
            return problems.GenericForbidden(str(exc))
        case errors.NoSuchGroup():
            slug = not_found_slug(version, "group-not-found", "group-not-found")
            return problems.GroupNotFound(str(exc), slug=slug)
        case errors.KernelFailure() if exc.action == "create":
            return problems.KernelCreationFailed(str(exc))
        case errors.KernelFailure() if exc.action == "restart":
            return problems.KernelRestartFailed(str(exc))
    return problems.KernelExecutionFailed(str(exc))


def problem_for_http(
    exc: web.HTTPException, request: web.Request, version: ApiVersion
) -> problems.Problem:
    if exc.status == 404:
        if version < OBJECT_NOT_FOUND_SINCE:
            return problems.GenericNotFound(data=request.path)
        return problems.URLNotFound(data=request.path)
    if exc.status == 405:
        return problems.MethodNotAllowed()
    if exc.status == 413:
        return too_large(request.client_max_size)
    if exc.status >= 500:
        return problems.InternalServerError()
    return problems.GenericBadRequest(exc.reason)
