"""Server-side request signature check (protocol doc §2.2)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from dateutil import parser as date_parser  # type: ignore[import-untyped]
from multidict import CIMultiDictProxy

from bai_bridge.api.auth import generate_signature
from bai_bridge.local.problems import AuthFailed, InvalidAuthParams

MAX_SKEW = timedelta(minutes=15)
SCHEMES = ("BackendAI", "Sorna")


def request_date(headers: CIMultiDictProxy[str], now: datetime) -> tuple[str, datetime]:
    """The raw Date text and its parsed value; outside ±15 minutes is an error."""
    raw = headers.get("Date") or headers.get("X-BackendAI-Date") or headers.get("X-Sorna-Date")
    if not raw:
        raise InvalidAuthParams("Date/time sync error")
    try:
        parsed = _parse_date(raw)
    except (ValueError, OverflowError):
        raise InvalidAuthParams("Date/time sync error") from None
    aware = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if not now - MAX_SKEW < aware < now + MAX_SKEW:
        raise InvalidAuthParams("Date/time sync error")
    return raw, parsed


def _parse_date(raw: str) -> datetime:
    """ISO 8601 (what clients send) at C speed; anything else through dateutil."""
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        parsed: datetime = date_parser.parse(raw)
        return parsed


def parse_authorization(value: str) -> tuple[str, str, str]:
    """`BackendAI signMethod=HMAC-SHA256, credential=AK:SIG` -> (method, access key, sig)."""
    scheme, sep, rest = value.partition(" ")
    if not sep:
        raise InvalidAuthParams("Malformed authorization header")
    if scheme not in SCHEMES:
        raise InvalidAuthParams("Invalid authorization type name")
    params: dict[str, str] = {}
    for pair in rest.split(","):
        key, eq, val = pair.strip().partition("=")
        if eq:
            params[key.strip()] = val.strip()
    access_key, colon, signature = params.get("credential", "").partition(":")
    if "signMethod" not in params or not colon or not access_key or not signature:
        raise InvalidAuthParams("Missing or malformed authorization parameters")
    return params["signMethod"], access_key, signature


def hash_name(sign_method: str) -> str:
    kind, _, hash_type = sign_method.lower().partition("-")
    if kind != "hmac" or hash_type not in hashlib.algorithms_guaranteed:
        raise InvalidAuthParams(f"Unsupported request signing method: {sign_method}")
    if hash_type.startswith("shake"):  # variable-length digests cannot key an HMAC
        raise InvalidAuthParams(f"Unsupported request signing method: {sign_method}")
    return hash_type


def authenticate(
    *,
    method: str,
    raw_path: str,
    headers: CIMultiDictProxy[str],
    content_type: str,
    keys: Mapping[str, str],
    now: datetime | None = None,
) -> str | None:
    """The caller's access key; None when no Authorization header was sent at all."""
    date_text, date = request_date(headers, now or datetime.now(UTC))
    authorization = headers.get("Authorization")
    if not authorization:
        return None
    sign_method, access_key, signature = parse_authorization(authorization)
    secret = keys.get(access_key)
    if secret is None:
        raise AuthFailed("Access key not found")
    hash_type = hash_name(sign_method)
    version_header = "x-backendai-version"
    version = headers.get("X-BackendAI-Version")
    if version is None and "X-Sorna-Version" in headers:
        version_header, version = "x-sorna-version", headers["X-Sorna-Version"]
    if not version:
        raise InvalidAuthParams("API version missing in request headers")
    expected = generate_signature(
        method=method,
        path=raw_path,
        date_header=date_text,
        sign_date=date.date(),
        host=headers.get("Host", ""),
        content_type=content_type,
        version=version,
        secret_key=secret,
        hash_type=hash_type,
        version_header_name=version_header,
    )
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise AuthFailed("Unauthorized access")
    return access_key
