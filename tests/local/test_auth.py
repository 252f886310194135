"""Signature checks of the embedded server (protocol doc §2.2), over real HTTP and WebSocket."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from bai_bridge.local.authcheck import authenticate
from bai_bridge.local.problems import AuthFailed, InvalidAuthParams
from bai_bridge.local.serve import start_server
from serverkit import SignedClient, random_config

VECTOR_KEYS = {"AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
VECTOR_NOW = datetime(2020, 1, 1, 0, 5, tzinfo=UTC)


def vector_headers(
    signature: str, version: str, date: str = "2020-01-01T00:00:00+00:00"
) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(
        CIMultiDict(
            {
                "Date": date,
                "Host": "127.0.0.1:8081",
                "X-BackendAI-Version": version,
                "Authorization": "BackendAI signMethod=HMAC-SHA256, "
                f"credential=AKIAIOSFODNN7EXAMPLE:{signature}",
            }
        )
    )


@pytest.mark.parametrize(
    ("method", "path", "content_type", "version", "signature", "date"),
    [
        (
            "GET",
            "/",
            "text/plain",
            "v4.20190615",
            "9c19145d035376d8fcb338f966155f3db712fa5074ba2a07eaa45423d2a794ad",
            None,
        ),
        (
            "GET",
            "/",
            "application/json",
            "v4.20190615",
            "ffc567850b2559a964958f0a64d1999325951b70e47f8ddbf57132e1e3e28678",
            None,
        ),
        (
            "GET",
            "/",
            "application/octet-stream",
            "v4.20190615",
            "3b0d0417bf47dfacf6d2d1def579e1d927c16b8a93b95a44812fad50f4371a26",
            None,
        ),
        (
            "POST",
            "/kernel/create",
            "application/json",
            "v4.20190615",
            "941d2ff71d57c34f9f250cf254a09aa7e743c1cfbe8835039138def9e4f0fd36",
            None,
        ),
        (
            "DELETE",
            "/session/mysession-01?forced=true",
            "text/plain",
            "v5.20191215",
            "3adfa4621b410a6f43d3ec4101f0cd849269e8f26c1e99f5b7607804ebf05d30",
            None,
        ),
        (
            "GET",
            "/stream/session/mysession-01/pty",
            "application/octet-stream",
            "v5.20191215",
            "f5364da919809e52dd363ff921c95a879975796dd843f92870c5c8b1a15bb26a",
            None,
        ),
        (
            "GET",
            "/",
            "text/plain",
            "v4.20190615",
            "740c11de531161245fa862eed70545cf775bdf7d2781856eea533aade71b1cfd",
            "2020-01-01T00:00:00.123456+00:00",
        ),
    ],
)
def test_protocol_vectors_are_accepted(
    method: str, path: str, content_type: str, version: str, signature: str, date: str | None
) -> None:
    headers = vector_headers(signature, version, date or "2020-01-01T00:00:00+00:00")
    key = authenticate(
        method=method,
        raw_path=path,
        headers=headers,
        content_type=content_type,
        keys=VECTOR_KEYS,
        now=VECTOR_NOW,
    )
    assert key == "AKIAIOSFODNN7EXAMPLE"


def test_vector_with_one_changed_byte_is_rejected() -> None:
    headers = vector_headers(
        "9c19145d035376d8fcb338f966155f3db712fa5074ba2a07eaa45423d2a794ae", "v4.20190615"
    )
    with pytest.raises(AuthFailed, match="Unauthorized access"):
        authenticate(
            method="GET",
            raw_path="/",
            headers=headers,
            content_type="text/plain",
            keys=VECTOR_KEYS,
            now=VECTOR_NOW,
        )


def test_date_window_is_fifteen_minutes() -> None:
    headers = vector_headers(
        "9c19145d035376d8fcb338f966155f3db712fa5074ba2a07eaa45423d2a794ad", "v4.20190615"
    )
    late = datetime(2020, 1, 1, 0, 15, 1, tzinfo=UTC)
    with pytest.raises(InvalidAuthParams, match="Date/time sync error"):
        authenticate(
            method="GET",
            raw_path="/",
            headers=headers,
            content_type="text/plain",
            keys=VECTOR_KEYS,
            now=late,
        )


async def test_root_is_public_and_advertises_26_x(client: SignedClient) -> None:
    reply = await client.request("GET", "/", sign=False)
    assert reply.status == 200
    assert reply.json() == {"version": "v9.20250722", "manager": "26.8.1"}
    assert reply.headers["Server"] == "BackendAI"


async def test_missing_authorization_is_401(client: SignedClient) -> None:
    reply = await client.request("GET", "/session/any", headers={"Authorization": None})  # type: ignore[dict-item]
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        401,
        "auth-failed",
        "Unauthorized access",
    )
    assert reply.headers["Content-Type"].startswith("application/problem+json")


async def test_missing_date_is_a_sync_error(client: SignedClient) -> None:
    reply = await client.request("GET", "/session/any", headers={"Date": None})  # type: ignore[dict-item]
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        400,
        "invalid-auth-params",
        "Date/time sync error",
    )


async def test_skewed_date_is_rejected(client: SignedClient) -> None:
    skewed = datetime.now(UTC) - timedelta(minutes=16)
    headers = client.sign("GET", "/session/any", "text/plain", date=skewed)
    reply = await client.request("GET", "/session/any", sign=False, headers=headers)
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        400,
        "invalid-auth-params",
        "Date/time sync error",
    )


async def test_bad_signature_is_401(client: SignedClient) -> None:
    headers = client.sign("GET", "/session/any", "text/plain", secret_key="not-the-secret")
    reply = await client.request("GET", "/session/any", sign=False, headers=headers)
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        401,
        "auth-failed",
        "Unauthorized access",
    )


async def test_signature_covers_the_query_string(client: SignedClient) -> None:
    headers = client.sign("DELETE", "/session/any", "text/plain")
    reply = await client.request("DELETE", "/session/any?forced=true", sign=False, headers=headers)
    assert (reply.status, reply.problem_type) == (401, "auth-failed")


async def test_unknown_access_key_is_401(client: SignedClient) -> None:
    headers = client.sign("GET", "/session/any", "text/plain")
    headers["Authorization"] = headers["Authorization"].replace(
        client.access_key, "AKUNKNOWNKEY0000000"
    )
    reply = await client.request("GET", "/session/any", sign=False, headers=headers)
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        401,
        "auth-failed",
        "Access key not found",
    )


@pytest.mark.parametrize(
    ("authorization", "msg"),
    [
        ("BackendAI", "Malformed authorization header"),
        ("Bearer signMethod=HMAC-SHA256, credential=a:b", "Invalid authorization type name"),
        ("BackendAI signMethod=HMAC-SHA256", "Missing or malformed authorization parameters"),
        ("BackendAI credential={ak}:abc", "Missing or malformed authorization parameters"),
        (
            "BackendAI signMethod=RSA-SHA256, credential={ak}:abc",
            "Unsupported request signing method: RSA-SHA256",
        ),
        (
            "BackendAI signMethod=HMAC-NOPE, credential={ak}:abc",
            "Unsupported request signing method: HMAC-NOPE",
        ),
    ],
)
async def test_malformed_authorization_is_400(
    client: SignedClient, authorization: str, msg: str
) -> None:
    headers = client.sign("GET", "/session/any", "text/plain")
    headers["Authorization"] = authorization.format(ak=client.access_key)
    reply = await client.request("GET", "/session/any", sign=False, headers=headers)
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        400,
        "invalid-auth-params",
        msg,
    )


async def test_missing_version_header(client: SignedClient) -> None:
    reply = await client.request("GET", "/session/any", headers={"X-BackendAI-Version": None})  # type: ignore[dict-item]
    assert (reply.status, reply.problem_type) == (400, "invalid-auth-params")
    assert reply.json()["msg"] == "API version missing in request headers"


async def test_unsupported_version_is_a_bad_request(client: SignedClient) -> None:
    reply = await client.request("GET", "/session/any", version="v3.20170615")
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        400,
        "generic-bad-request",
        "Unsupported API version.",
    )


async def test_every_supported_version_is_accepted(client: SignedClient) -> None:
    for version in (
        "v4.20190615",
        "v5.20191215",
        "v6.20200815",
        "v7.20230615",
        "v8.20240915",
        "v9.20250722",
    ):
        reply = await client.request("GET", "/session/nonexistent", version=version)
        assert reply.status == 404, (version, reply.body)


async def test_websocket_handshake_needs_a_signature(client: SignedClient) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.session.ws_connect(client.endpoint + "/stream/session/any/execute")
    assert caught.value.status in (400, 401)
    headers = client.sign(
        "GET", "/stream/session/any/execute", "application/octet-stream", secret_key="wrong"
    )
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.session.ws_connect(
            client.endpoint + "/stream/session/any/execute", headers=headers
        )
    assert caught.value.status == 401


async def test_websocket_handshake_with_a_signature_reaches_the_handler(
    client: SignedClient,
) -> None:
    path = "/stream/session/nonexistent/execute"
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.session.ws_connect(client.endpoint + path, headers=client.ws_headers(path))
    assert caught.value.status == 404  # authenticated, then: no such session


def test_legacy_headers_and_rfc1123_dates_are_understood() -> None:
    from email.utils import format_datetime

    from bai_bridge.api.auth import generate_signature

    now = datetime.now(UTC)
    date_text = format_datetime(now, usegmt=True)  # e.g. "Fri, 27 Nov 2026 03:00:00 GMT"
    signature = generate_signature(
        method="GET",
        path="/kernel/x",
        date_header=date_text,
        sign_date=now.date(),
        host="127.0.0.1:8081",
        content_type="text/plain",
        version="v4.20190615",
        secret_key=VECTOR_KEYS["AKIAIOSFODNN7EXAMPLE"],
        version_header_name="x-sorna-version",
    )
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "X-Sorna-Date": date_text,
                "Host": "127.0.0.1:8081",
                "X-Sorna-Version": "v4.20190615",
                "Authorization": "Sorna signMethod=HMAC-SHA256, "
                f"credential=AKIAIOSFODNN7EXAMPLE:{signature}",
            }
        )
    )
    key = authenticate(
        method="GET",
        raw_path="/kernel/x",
        headers=headers,
        content_type="text/plain",
        keys=VECTOR_KEYS,
    )
    assert key == "AKIAIOSFODNN7EXAMPLE"


async def test_rate_limit_headers_and_429(tmp_path: Path) -> None:
    server = await start_server(random_config(tmp_path / "data", rate_limit=2))
    try:
        async with aiohttp.ClientSession() as http:
            client = SignedClient(server.endpoint, server.access_key, server.secret_key, http)
            anonymous = await client.request("GET", "/", sign=False)
            assert anonymous.headers["X-RateLimit-Limit"] == "1000"
            assert anonymous.headers["X-RateLimit-Window"] == "900"
            first = await client.request("GET", "/session/none")
            assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == (
                "2",
                "1",
            )
            await client.request("GET", "/session/none")
            third = await client.request("GET", "/session/none")
            assert (third.status, third.problem_type) == (429, "rate-limit-exceeded")
            assert third.headers["X-RateLimit-Remaining"] == "0"
    finally:
        await server.close()


async def test_method_override_routes_and_signs_as_the_new_method(client: SignedClient) -> None:
    path = "/session/no-such-session/logs"  # a GET-only route
    plain = await client.request("POST", path)
    assert (plain.status, plain.problem_type) == (405, "method-not-allowed")
    override = {"X-Method-Override": "GET"}
    headers = {**client.sign("GET", path, "text/plain"), **override}
    routed = await client.request("POST", path, sign=False, headers=headers)
    assert (routed.status, routed.problem_type) == (404, "session-not-found")  # the logs handler
    signed_as_post = await client.request("POST", path, headers=override)
    assert (signed_as_post.status, signed_as_post.problem_type) == (401, "auth-failed")
