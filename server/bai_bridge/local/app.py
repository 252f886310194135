"""The embedded session server's aiohttp application."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

from bai_bridge.local import events_api, execute_ws, files_api, gql_api, sessions_api
from bai_bridge.local.body_guard import body_guard
from bai_bridge.local.config import LocalConfig, ServerProfile
from bai_bridge.local.context import CONTEXT, ServerContext
from bai_bridge.local.events import EventBus
from bai_bridge.local.images import installed_kernels
from bai_bridge.local.middleware import (
    auth_middleware,
    error_middleware,
    method_override,
    set_common_headers,
    version_middleware,
)
from bai_bridge.local.ratelimit import RateLimiter
from bai_bridge.local.registry import SessionRegistry

# Uploads are multipart bodies of up to 20 files under 1 MiB each by default.
BODY_MARGIN = 1 << 20


def create_app(
    config: LocalConfig, *, extra_middlewares: Iterable[Middleware] = ()
) -> web.Application:
    """The app; ``extra_middlewares`` run after error handling and before version and auth."""
    max_body = config.max_upload_files * config.max_upload_file_size + BODY_MARGIN
    checks = [version_middleware, auth_middleware]
    app = web.Application(
        middlewares=[
            error_middleware,
            *extra_middlewares,
            body_guard(config.body_timeout),  # before auth: any client can hold a connection
            method_override(checks),
            *checks,
        ],
        client_max_size=max_body,
    )
    bus = EventBus()
    context = ServerContext(
        config=config,
        registry=SessionRegistry(
            config.data_dir,
            installed_kernels(),
            lambda lifecycle: events_api.publish(bus, lifecycle),
            run_queue_size=config.run_queue_size,
            kernel_subshell=config.profile is ServerProfile.EMBEDDED,
        ),
        keys={config.access_key: config.secret_key},
        bus=bus,
        rate_limiter=RateLimiter(config.rate_limit),
    )
    app[CONTEXT] = context
    sessions_api.add_routes(app)
    files_api.add_routes(app)
    events_api.add_routes(app)
    gql_api.add_routes(app)
    for prefix in ("kernel", "session"):
        app.router.add_get(f"/stream/{prefix}/{{sid}}/execute", execute_ws.stream_execute)
    app.on_response_prepare.append(set_common_headers)
    app.on_shutdown.append(_shutdown)
    return app


async def _shutdown(app: web.Application) -> None:
    await app[CONTEXT].registry.close()
    app[CONTEXT].bus.close()  # ends the open event streams
