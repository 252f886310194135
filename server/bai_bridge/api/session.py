"""`APISession`: one aiohttp session to one manager, version negotiation, signing, errors.

Every request goes through `APISession.request` (or the WebSocket/SSE variants): it builds
the URL under the endpoint's path, signs it (protocol doc §2.1), rotates to the next endpoint
on connection errors, and turns any non-2xx answer into the exception from `errors`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import aiohttp
import cattrs
from yarl import URL

from .auth import authorization_header, generate_signature
from .config import APIConfig
from .errors import BackendClientError, BackendError, api_error_from_body
from .models import ApiInfo, converter
from .versioning import CLIENT_API_VERSION, ApiVersion, manager_version_tuple, parse_api_version

if TYPE_CHECKING:
    from .kernel import Kernel

__all__ = ["USER_AGENT", "APISession", "BodyFactory", "Query"]

log = logging.getLogger(__name__)
T = TypeVar("T")

USER_AGENT = "bai-bridge (Backend.AI API client)"
Query = Mapping[str, str]
# Builds a fresh request body for each attempt (a multipart body can be sent only once).
BodyFactory = Callable[[], Any]

# Managers from 24.09 on take download as POST (protocol doc §3.10, §8).
_DOWNLOAD_POST_FROM = (24, 9)
# How long an idle kept-alive connection is reused (aiohttp's default is 15 s): a new one
# costs a round trip (more with TLS). Below the 60 s idle limit of common load balancers.
KEEPALIVE_TIMEOUT = 55.0
# `keep_warm`: an idle connection gets a ``GET /`` this often, for this long after the last
# request, so the first request after a pause finds it open.
KEEP_WARM_EVERY = 25.0
KEEP_WARM_FOR = 15 * 60.0


class APISession:
    """An open connection to one Backend.AI manager (async context manager).

    ``api.Kernel`` is the `Kernel` class bound to this session: ``await
    api.Kernel.get_or_create(...)``. Several sessions can live side by side. Without a
    ``config``, settings come from the ``BACKEND_*`` variables (``APIConfig()``).
    """

    def __init__(self, config: APIConfig | None = None) -> None:
        from .kernel import bind_kernel  # kernel imports this module for typing only

        config = APIConfig() if config is None else config
        self.config = config
        self.api_version: ApiVersion = config.api_version or CLIENT_API_VERSION
        self.server_info: ApiInfo | None = None
        self.Kernel: type[Kernel] = bind_kernel(self)
        self._endpoint_index = 0
        self._http: aiohttp.ClientSession | None = None
        # WebSockets and event streams hold their connection for good: they get their own
        # pool, so that they never take the kept-alive connection requests are waiting for.
        self._streams: aiohttp.ClientSession | None = None
        self._keep_warm: asyncio.Task[None] | None = None
        self._negotiation: asyncio.Task[ApiVersion] | None = None
        self._last_request = self._last_sent = time.monotonic()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self, *, wait_for_version: bool = True) -> None:
        """Create the HTTP session and negotiate the API version with ``GET /``.

        Without ``wait_for_version`` the negotiation goes on while this returns: requests wait
        for it, except those that say their version (`Kernel.get_or_create` sends the create
        at once, in our newest version: on a new connection, `GET /` first cost two round
        trips, the TCP handshake's and its own, before the create could go)."""
        if self._http is not None:
            return
        timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self.config.connection_timeout or None,
            sock_read=self.config.read_timeout or None,
        )
        ssl = not self.config.skip_ssl_validation
        connector = aiohttp.TCPConnector(ssl=ssl, keepalive_timeout=KEEPALIVE_TIMEOUT)
        self._http = aiohttp.ClientSession(timeout=timeout, connector=connector)
        self._streams = aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(ssl=ssl, force_close=True)
        )
        self._negotiation = asyncio.create_task(self.negotiate(), name="api-negotiate")
        if wait_for_version:
            try:
                await self.negotiated()
            except BaseException:
                await self.close()
                raise

    async def negotiated(self) -> ApiVersion:
        """The version to use, once `GET /` has answered (or failed: ours is kept)."""
        task = self._negotiation
        if task is not None and not task.done():
            await asyncio.shield(task)
        elif task is not None:
            task.result()  # what went wrong unexpectedly, for every request
        return self.api_version

    def keep_warm(self, on_failure: Callable[[BackendClientError], None] | None = None) -> None:
        """Keep a connection open through pauses (see `KEEP_WARM_EVERY`); stops on `close`.
        ``on_failure`` hears of a keep-warm request that did not get through: the server was
        unreachable while nothing else asked."""
        if self._keep_warm is None or self._keep_warm.done():
            warm = self._warm_loop(on_failure)
            self._keep_warm = asyncio.create_task(warm, name="api-keep-warm")

    async def _warm_loop(self, on_failure: Callable[[BackendClientError], None] | None) -> None:
        while True:
            await asyncio.sleep(max(0.0, self._last_sent + KEEP_WARM_EVERY - time.monotonic()))
            now = time.monotonic()
            if now - self._last_sent < KEEP_WARM_EVERY:
                continue  # a request went meanwhile
            if now - self._last_request > KEEP_WARM_FOR:
                self._last_sent = now  # idle for long: let the connection go, look again later
                continue
            try:
                await self.hello()
            except BackendClientError as e:
                if on_failure is not None:
                    on_failure(e)
            except (BackendError, ValueError, cattrs.BaseValidationError):
                pass  # answered, if oddly: the next real request reports what is wrong
            self._last_sent = time.monotonic()

    async def close(self) -> None:
        for task in (self._keep_warm, self._negotiation):
            if task is not None:
                task.cancel()
        self._keep_warm = self._negotiation = None
        for http in (self._http, self._streams):
            if http is not None:
                await http.close()
        self._http = self._streams = None

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("APISession is not open (use 'async with APISession(config)')")
        return self._http

    @property
    def streams(self) -> aiohttp.ClientSession:
        """The HTTP session of long-lived connections (WebSockets, event streams)."""
        if self._streams is None:
            raise RuntimeError("APISession is not open (use 'async with APISession(config)')")
        return self._streams

    @property
    def endpoint(self) -> URL:
        """The endpoint currently in use (rotates on connection errors)."""
        return self.config.endpoints[self._endpoint_index]

    @property
    def manager_version(self) -> tuple[int, ...] | None:
        return manager_version_tuple(self.server_info.manager if self.server_info else None)

    @property
    def download_method(self) -> str:
        """``POST`` on managers 24.09 and later, ``GET`` (with a JSON body) before."""
        manager = self.manager_version
        if manager is None:
            return "POST" if self.api_version >= (8, "20240915") else "GET"
        return "POST" if manager >= _DOWNLOAD_POST_FROM else "GET"

    async def negotiate(self) -> ApiVersion:
        """``GET /`` unsigned; the version used is min(server's, ours).

        If the server cannot be reached or answers something unparsable, our own version is
        kept (as the official client does) and the first real request reports the problem.
        """
        client_version = self.config.api_version or CLIENT_API_VERSION
        try:
            info = await self.hello()
            server_version = parse_api_version(info.version)
        except (BackendError, ValueError, aiohttp.ClientError, cattrs.BaseValidationError) as e:
            log.warning("API version negotiation failed (%s); using %s", e, client_version)
            self.api_version = client_version
            return self.api_version
        self.server_info = info
        self.api_version = min(server_version, client_version)
        if server_version > client_version:
            log.info("server speaks %s, using %s", server_version, client_version)
        return self.api_version

    async def hello(self) -> ApiInfo:
        """The unsigned ``GET /`` (API version and manager version)."""
        async with self.request("GET", "/", signed=False) as resp:
            return converter.structure(await resp.json(content_type=None), ApiInfo)

    def url(self, path: str, query: Query | None = None) -> URL:
        """``path`` under the endpoint's own path (``https://h/prefix`` + ``/session``)."""
        base = self.endpoint
        url = base.with_path(base.path.rstrip("/") + path)
        return url.with_query(dict(query)) if query else url

    def signed_headers(
        self, method: str, url: URL, content_type: str, *, send_content_type: bool = True,
        version: ApiVersion | None = None,
    ) -> dict[str, str]:  # fmt: skip
        """Headers of one signed request; ``content_type`` is the MIME type that is signed;
        ``version``: the API version it speaks (default: the negotiated one)."""
        now = datetime.now(UTC)
        said = str(version or self.api_version)
        headers = {
            "User-Agent": USER_AGENT,
            "X-BackendAI-Domain": self.config.domain,
            "X-BackendAI-Version": said,
            "Date": now.isoformat(),
        }
        if send_content_type:
            headers["Content-Type"] = content_type
        if self.config.access_key:
            signature = generate_signature(
                method=method,
                path=url.raw_path_qs,
                date_header=headers["Date"],
                sign_date=now.date(),
                host=self.endpoint.raw_authority,
                content_type=content_type,
                version=said,
                secret_key=self.config.secret_key,
                hash_type=self.config.hash_type,
            )
            headers["Authorization"] = authorization_header(
                self.config.access_key, signature, self.config.hash_type
            )
        return headers

    @asynccontextmanager
    async def request(
        self,
        method: str,
        path: str,
        *,
        query: Query | None = None,
        json_body: Any = None,
        body: BodyFactory | None = None,
        content_type: str | None = None,
        signed: bool = True,
        headers: Mapping[str, str] | None = None,
        version: ApiVersion | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Send one request and yield its 2xx response (released on exit).

        ``json_body`` is sent as ``application/json``; ``body`` builds another payload per
        attempt and ``content_type`` is what gets signed (e.g. ``multipart/form-data``).
        Without either, the request is body-less and signed as ``text/plain``. A request
        waits for the version negotiation unless it gives its ``version``.
        """
        data: Any = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            content_type = "application/json"
        if signed and version is None:
            version = await self.negotiated()
        resp = await self._send(
            method, path, query, data, body, content_type or "text/plain", signed, headers,
            version,
        )  # fmt: skip
        try:
            if resp.status >= 300:
                raise api_error_from_body(resp.status, resp.reason or "", await resp.read())
            yield resp
        except (aiohttp.ClientError, TimeoutError) as e:
            raise BackendClientError(f"{method} {path}: {e!r}") from e
        finally:
            resp.release()

    async def fetch_json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request` and decode the JSON answer (None for an empty body)."""
        async with self.request(method, path, **kwargs) as resp:
            raw = await resp.read()
        return json.loads(raw) if raw.strip() else None

    async def ws_connect(
        self, path: str, query: Query | None = None
    ) -> aiohttp.ClientWebSocketResponse:
        """Open a signed WebSocket (signed as ``application/octet-stream``, no Content-Type)."""

        version = await self.negotiated()

        async def attempt() -> aiohttp.ClientWebSocketResponse:
            url = self.url(path, query)
            headers = self.signed_headers(
                "GET", url, "application/octet-stream", send_content_type=False, version=version
            )
            return await self.streams.ws_connect(
                url, headers=headers, autoping=True, heartbeat=30.0, max_msg_size=0
            )

        return await self.with_rotation(f"WebSocket {path}", attempt)

    async def sse_connect(
        self, path: str, query: Query | None = None, headers: Mapping[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        """Open a signed event stream; the caller releases the 2xx response it gets."""

        version = await self.negotiated()

        async def attempt() -> aiohttp.ClientResponse:
            url = self.url(path, query)
            signed = self.signed_headers(
                "GET", url, "application/octet-stream", send_content_type=False, version=version
            )
            signed.update({"Accept": "text/event-stream", **(headers or {})})
            return await self.streams.get(url, headers=signed)

        resp = await self.with_rotation(f"events {path}", attempt)
        if resp.status >= 300:
            try:
                raise api_error_from_body(resp.status, resp.reason or "", await resp.read())
            finally:
                resp.release()
        return resp

    async def _send(
        self,
        method: str,
        path: str,
        query: Query | None,
        data: Any,
        body: BodyFactory | None,
        content_type: str,
        signed: bool,
        extra_headers: Mapping[str, str] | None,
        version: ApiVersion | None,
    ) -> aiohttp.ClientResponse:
        self._last_sent = now = time.monotonic()
        if path != "/":  # not `hello`, the keep-warm request
            self._last_request = now

        async def attempt() -> aiohttp.ClientResponse:
            url = self.url(path, query)
            if signed:
                headers = self.signed_headers(method, url, content_type, version=version)
            else:
                headers = {"User-Agent": USER_AGENT}
            headers.update(extra_headers or {})
            payload = body() if body is not None else data
            if body is not None:
                headers.pop("Content-Type", None)  # the payload sets it with its boundary
            return await self.http.request(method, url, headers=headers, data=payload)

        return await self.with_rotation(f"{method} {path}", attempt)

    async def with_rotation(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` against each endpoint in turn while connecting fails."""
        last: Exception | None = None
        for _ in range(len(self.config.endpoints)):
            try:
                return await attempt()
            except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
                last = e
                log.warning("cannot connect to %s (%s); trying the next endpoint", self.endpoint, e)
                self._endpoint_index = (self._endpoint_index + 1) % len(self.config.endpoints)
            except aiohttp.WSServerHandshakeError as e:
                raise api_error_from_body(e.status, e.message, b"") from e
            except (aiohttp.ClientError, TimeoutError) as e:
                raise BackendClientError(f"{what}: {e!r}") from e
        raise BackendClientError(f"{what}: no endpoint reachable ({last})") from last
