"""The exact §2.3 vectors of the protocol doc."""

from datetime import date

import pytest

from bai_bridge.api.auth import authorization_header, generate_signature

AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOST = "127.0.0.1:8081"
DATE = "2020-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("method", "path", "date_header", "content_type", "version", "expected"),
    [
        (
            "GET",
            "/",
            DATE,
            "text/plain",
            "v4.20190615",
            "9c19145d035376d8fcb338f966155f3db712fa5074ba2a07eaa45423d2a794ad",
        ),
        (
            "GET",
            "/",
            DATE,
            "application/json",
            "v4.20190615",
            "ffc567850b2559a964958f0a64d1999325951b70e47f8ddbf57132e1e3e28678",
        ),
        (
            "GET",
            "/",
            DATE,
            "application/octet-stream",
            "v4.20190615",
            "3b0d0417bf47dfacf6d2d1def579e1d927c16b8a93b95a44812fad50f4371a26",
        ),
        (
            "POST",
            "/kernel/create",
            DATE,
            "application/json",
            "v4.20190615",
            "941d2ff71d57c34f9f250cf254a09aa7e743c1cfbe8835039138def9e4f0fd36",
        ),
        (
            "DELETE",
            "/session/mysession-01?forced=true",
            DATE,
            "text/plain",
            "v5.20191215",
            "3adfa4621b410a6f43d3ec4101f0cd849269e8f26c1e99f5b7607804ebf05d30",
        ),
        (
            "GET",
            "/stream/session/mysession-01/pty",
            DATE,
            "application/octet-stream",
            "v5.20191215",
            "f5364da919809e52dd363ff921c95a879975796dd843f92870c5c8b1a15bb26a",
        ),
        (
            "GET",
            "/",
            "2020-01-01T00:00:00.123456+00:00",
            "text/plain",
            "v4.20190615",
            "740c11de531161245fa862eed70545cf775bdf7d2781856eea533aade71b1cfd",
        ),
    ],
)
def test_protocol_vectors(
    method: str, path: str, date_header: str, content_type: str, version: str, expected: str
) -> None:
    signature = generate_signature(
        method=method,
        path=path,
        date_header=date_header,
        sign_date=date(2020, 1, 1),
        host=HOST,
        content_type=content_type,
        version=version,
        secret_key=SK,
    )
    assert signature == expected


def test_authorization_header_format() -> None:
    header = authorization_header(AK, "abc")
    assert header == f"BackendAI signMethod=HMAC-SHA256, credential={AK}:abc"
