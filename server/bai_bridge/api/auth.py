"""Backend.AI HMAC request signing (protocol doc §2).

One pure function, used by the client to sign and by the embedded server to verify.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import date as Date

__all__ = ["BODY_HASH_EMPTY", "authorization_header", "generate_signature"]

# From API v4.20181215 on, the body is always hashed as if empty (protocol doc §2.1 step 4).
BODY_HASH_EMPTY = hashlib.sha256(b"").hexdigest()


def generate_signature(
    *,
    method: str,
    path: str,
    date_header: str,
    sign_date: Date,
    host: str,
    content_type: str,
    version: str,
    secret_key: str,
    hash_type: str = "sha256",
    version_header_name: str = "x-backendai-version",
) -> str:
    """Return the hex HMAC signature of one request.

    ``path`` includes the query string exactly as sent; ``date_header`` is the raw ``Date``
    text; ``sign_date`` is the calendar date used to derive the signing key; ``content_type``
    is the MIME type without parameters.
    """
    body_hash = hashlib.new(hash_type, b"").hexdigest()
    string_to_sign = "\n".join(
        (
            method.upper(),
            path,
            date_header,
            f"host:{host}",
            f"content-type:{content_type.lower()}",
            f"{version_header_name}:{version}",
            body_hash,
        )
    )
    digest = getattr(hashlib, hash_type)
    k1 = hmac.new(secret_key.encode(), sign_date.strftime("%Y%m%d").encode(), digest).digest()
    k2 = hmac.new(k1, host.encode(), digest).digest()
    return hmac.new(k2, string_to_sign.encode(), digest).hexdigest()


def authorization_header(access_key: str, signature: str, hash_type: str = "sha256") -> str:
    """The ``Authorization`` header value for a signature (protocol doc §2.1 step 8)."""
    return f"BackendAI signMethod=HMAC-{hash_type.upper()}, credential={access_key}:{signature}"
