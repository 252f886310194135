"""`APIConfig`: where the manager is and how to sign for it (protocol doc §7).

Explicit arguments win; `APIConfig.from_env` fills the rest from the conventional
``BACKEND_*`` variables (``SORNA_*`` as the legacy fallback). The secret key never appears in
``repr`` or logs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from yarl import URL

from .versioning import ApiVersion, parse_api_version

__all__ = ["DEFAULT_ENDPOINT", "APIConfig", "APIConfigError"]

DEFAULT_ENDPOINT = "https://api.cloud.backend.ai"
_TRUE = {"y", "yes", "t", "true", "1"}
_FALSE = {"n", "no", "f", "false", "0"}


class APIConfigError(ValueError):
    """A setting (argument or environment variable) has a value this client cannot use."""


def _endpoints(value: str | URL | Iterable[str | URL]) -> tuple[URL, ...]:
    items = (
        value.split(",") if isinstance(value, str) else [value] if isinstance(value, URL) else value
    )
    urls = tuple(URL(str(item).strip()) for item in items if str(item).strip())
    if not urls:
        raise APIConfigError("BACKEND_ENDPOINT is empty")
    for url in urls:
        if not url.is_absolute() or url.scheme not in ("http", "https"):
            raise APIConfigError(f"endpoint must be an absolute http(s) URL: {str(url)!r}")
    return urls


def _names(value: str | Iterable[str]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    return tuple(dict.fromkeys(s.strip() for s in items if s.strip()))


def _bool(value: str | bool) -> bool:
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in _TRUE | _FALSE:
        return lowered in _TRUE
    raise APIConfigError(f"not a boolean (yes/no/true/false/1/0): {value!r}")


def _seconds(value: str | float | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise APIConfigError(f"not a number of seconds: {value!r}") from None
    if seconds < 0:
        raise APIConfigError(f"timeout must not be negative: {value!r}")
    return seconds


def _version(value: str | ApiVersion | None) -> ApiVersion | None:
    if value is None or isinstance(value, ApiVersion):
        return value
    try:
        return parse_api_version(value)
    except ValueError as e:
        raise APIConfigError(f"BACKEND_API_VERSION: {e}") from None


def _endpoint_type(value: str) -> str:
    if value.strip().lower() != "api":
        raise APIConfigError(
            f"BACKEND_ENDPOINT_TYPE={value!r} is not supported: bai-bridge talks to the manager "
            "API with an access/secret keypair (BACKEND_ENDPOINT_TYPE=api); console-server "
            "'session' endpoints with cookie login are not supported"
        )
    return "api"


@attrs.frozen(kw_only=True)
class APIConfig:
    """Connection settings for one Backend.AI manager (or the embedded session server).

    ``endpoint`` is one URL or a comma-separated list: connection errors rotate to the next.
    ``read_timeout`` of None or 0 means no read timeout (long-running creates and streams).
    ``api_version`` pins the client's version; the negotiated one is min(server, pin).
    """

    endpoints: tuple[URL, ...] = attrs.field(
        alias="endpoint", default=DEFAULT_ENDPOINT, converter=_endpoints
    )
    endpoint_type: str = attrs.field(default="api", converter=_endpoint_type)
    access_key: str = ""
    secret_key: str = attrs.field(default="", repr=False)
    domain: str = "default"
    group: str = "default"
    vfolder_mounts: tuple[str, ...] = attrs.field(default=(), converter=_names)
    skip_ssl_validation: bool = attrs.field(default=False, converter=_bool)
    connection_timeout: float | None = attrs.field(default=10.0, converter=_seconds)
    read_timeout: float | None = attrs.field(default=None, converter=_seconds)
    api_version: ApiVersion | None = attrs.field(default=None, converter=_version)
    hash_type: str = "sha256"

    @property
    def endpoint(self) -> URL:
        """The first (preferred) endpoint."""
        return self.endpoints[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> APIConfig:
        """Settings from ``BACKEND_*`` (then ``SORNA_*``) variables; ``overrides`` win.

        ``vfolder_mounts`` given explicitly are merged with ``BACKEND_VFOLDER_MOUNTS``, as the
        official client does.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, attr in _ENV_NAMES.items():
            raw = env.get(f"BACKEND_{name}", env.get(f"SORNA_{name}"))
            if raw is not None:
                values[attr] = raw
        mounts = _names(values.pop("vfolder_mounts", "")) + _names(
            overrides.pop("vfolder_mounts", ())
        )
        return cls(**{**values, **overrides, "vfolder_mounts": mounts})

    @staticmethod
    def endpoint_configured(env: Mapping[str, str] | None = None) -> bool:
        """Whether the environment names a manager (else the caller may start the embedded one)."""
        env = os.environ if env is None else env
        return bool(env.get("BACKEND_ENDPOINT", env.get("SORNA_ENDPOINT", "")).strip())


_ENV_NAMES = {
    "ENDPOINT": "endpoint",
    "ENDPOINT_TYPE": "endpoint_type",
    "ACCESS_KEY": "access_key",
    "SECRET_KEY": "secret_key",
    "DOMAIN": "domain",
    "GROUP": "group",
    "VFOLDER_MOUNTS": "vfolder_mounts",
    "SKIP_SSLCERT_VALIDATION": "skip_ssl_validation",
    "CONNECTION_TIMEOUT": "connection_timeout",
    "READ_TIMEOUT": "read_timeout",
    "API_VERSION": "api_version",
}
