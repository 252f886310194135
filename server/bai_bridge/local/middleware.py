"""Request pipeline: errors as problem+json, then API version, then signature (§1.2, §2.2)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler, Middleware

from bai_bridge.local import errors, problems
from bai_bridge.local.authcheck import authenticate
from bai_bridge.local.context import (
    ACCESS_KEY,
    API_VERSION,
    DEFAULT_VERSION,
    RATE_INFO,
    api_version,
    server,
)
from bai_bridge.local.http_errors import problem_for, problem_for_http
from bai_bridge.local.ratelimit import ANONYMOUS
from bai_bridge.local.versioning import VALID_VERSIONS, ApiVersion

log = logging.getLogger(__name__)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as problem+json, with one log line (a traceback only for a bug of ours)."""
    try:
        return await handler(request)
    except asyncio.CancelledError:
        raise
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        problem = problem_for_http(exc, request, api_version(request))
    # The client went away (or was cut off) while its request was read or answered: nothing
    # is wrong here, and 3,000 such clients must not write 3,000 tracebacks.
    except ConnectionResetError:
        log.info("%s %s: the client went away mid-request", request.method, request.path)
        return problems.GenericBadRequest("The request was not received whole.").response()
    except Exception as exc:
        known = _known_problem(exc, request)
        if known is None:
            log.exception("unhandled error in %s %s", request.method, request.path)
            return problems.InternalServerError().response()
        problem = known
    level = logging.INFO if problem.status < 500 else logging.WARNING
    log.log(
        level,
        "%s %s: %d %s %r",
        request.method,
        request.path,
        problem.status,
        problem.type_slug,
        problem.msg or problem.type_title,
    )
    return problem.response()


def _known_problem(exc: Exception, request: web.Request) -> problems.Problem | None:
    """The problem an expected error stands for; None for a bug."""
    match exc:
        case problems.Problem():
            return exc
        case errors.SessionError():
            return problem_for(exc, api_version(request))
        case HttpProcessingError() if 400 <= exc.code < 500:  # a malformed body (multipart)
            return problems.GenericBadRequest(f"Malformed request: {exc.message}")
    return None


@web.middleware
async def version_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    header = request.headers.get("X-BackendAI-Version") or request.headers.get("X-Sorna-Version")
    if header:
        if header not in VALID_VERSIONS:
            raise problems.GenericBadRequest("Unsupported API version.")
        request[API_VERSION] = ApiVersion.parse(header)
    else:
        request[API_VERSION] = DEFAULT_VERSION
    return await handler(request)


def method_override(downstream: Sequence[Middleware]) -> Middleware:
    """§1.4: ``X-Method-Override: <METHOD>`` makes the request that method, routed anew, as the
    manager's API middleware does; ``downstream`` (version, auth) then see the new method, so
    the signature covers it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        method = request.headers.get("X-Method-Override", "").strip().upper()
        if not method or method == request.method:
            return await handler(request)
        overridden = request.clone(method=method)
        match = await request.app.router.resolve(overridden)
        match.add_app(request.app)
        match.freeze()
        # aiohttp routes before the middlewares run and offers no public way to route again.
        overridden._match_info = match
        chain: Handler = match.handler
        for outer in reversed(downstream):
            chain = functools.partial(outer, handler=chain)
        return await chain(overridden)

    return middleware


def is_public(request: web.Request) -> bool:
    match_info = request.match_info
    return match_info.http_exception is not None or getattr(match_info.handler, "public", False)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if is_public(request):
        return await handler(request)
    key = authenticate(
        method=request.method,
        raw_path=request.raw_path,
        headers=request.headers,
        content_type=request.content_type,
        keys=server(request).keys,
    )
    if key is None:
        raise problems.AuthFailed("Unauthorized access")
    request[ACCESS_KEY] = key
    rate = server(request).rate_limiter.hit(key)
    request[RATE_INFO] = rate
    if rate.remaining < 0:
        raise problems.RateLimitExceeded()
    return await handler(request)


async def set_common_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Server"] = "BackendAI"
    response.headers.update(request.get(RATE_INFO, ANONYMOUS).headers())
