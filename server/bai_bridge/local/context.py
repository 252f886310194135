"""What every handler needs: the server's context and the per-request facts."""

from __future__ import annotations

from typing import Any

import attrs
from aiohttp import web

from bai_bridge.local.config import LocalConfig
from bai_bridge.local.events import EventBus
from bai_bridge.local.json_text import parse_json
from bai_bridge.local.ratelimit import RateInfo, RateLimiter
from bai_bridge.local.registry import SessionRegistry
from bai_bridge.local.session import Session
from bai_bridge.local.versioning import DEFAULT_MAJOR, ApiVersion, latest_for_major


@attrs.define
class ServerContext:
    config: LocalConfig
    registry: SessionRegistry
    keys: dict[str, str]
    bus: EventBus
    rate_limiter: RateLimiter


CONTEXT = web.AppKey("bai_bridge_local_context", ServerContext)
API_VERSION = web.RequestKey("bai_bridge_api_version", ApiVersion)
ACCESS_KEY = web.RequestKey("bai_bridge_access_key", str)
RATE_INFO = web.RequestKey("bai_bridge_rate_info", RateInfo)
DEFAULT_VERSION = latest_for_major(DEFAULT_MAJOR) or ApiVersion(DEFAULT_MAJOR, "20191215")


def server(request: web.Request) -> ServerContext:
    return request.app[CONTEXT]


def api_version(request: web.Request) -> ApiVersion:
    version = request.get(API_VERSION)
    return DEFAULT_VERSION if version is None else version


def access_key(request: web.Request) -> str:
    return request[ACCESS_KEY]


def owner_key(request: web.Request) -> str:
    """Whose sessions a request acts on: ``owner_access_key`` or the caller's own key.

    The local keypair is the only user and acts as a superadmin, so naming another owner is
    allowed; that owner simply has no sessions here.
    """
    return request.query.get("owner_access_key") or access_key(request)


async def read_json(request: web.Request) -> Any:
    """The JSON body, or None when there is none; unparsable JSON or non-Unicode text is a 400."""
    raw = await request.read()
    if not raw.strip():
        return None
    return parse_json(raw)


def find_session(request: web.Request) -> Session:
    sid = request.match_info["sid"]
    exact = api_version(request).major <= 4  # v4 names sessions exactly (protocol doc §3.0)
    return server(request).registry.find(owner_key(request), sid, exact=exact)


def public(handler: Any) -> Any:
    """Mark a handler as reachable without a signature (only `GET /`)."""
    handler.public = True
    return handler


def query_flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("1", "true", "yes", "on")
