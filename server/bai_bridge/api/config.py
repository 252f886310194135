"""`APIConfig`: where the manager is and how to sign for it (protocol doc §7).

As in the official client, ``APIConfig()`` reads the conventional ``BACKEND_*`` variables
(``SORNA_*`` as the legacy fallback) for every setting not given as an argument; explicit
arguments win. The secret key never appears in ``repr`` or logs.
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


@attrs.frozen(init=False)
class APIConfig:
    """Connection settings for one Backend.AI manager (or the embedded session server).

    Each argument left as None is read from ``BACKEND_<NAME>`` in ``env`` (default:
    ``os.environ``), then takes the official client's default. ``endpoint`` is one URL or a
    comma-separated list: connection errors rotate to the next. ``vfolder_mounts`` given are
    merged with ``BACKEND_VFOLDER_MOUNTS``, as the official client does. A timeout of 0
    means none (``read_timeout`` defaults to none: long-running creates and streams).
    ``api_version`` pins the client's version; the negotiated one is min(server, pin).
    """

    endpoints: tuple[URL, ...] = attrs.field(alias="endpoint", converter=_endpoints)
    endpoint_type: str = attrs.field(converter=_endpoint_type)
    access_key: str
    secret_key: str = attrs.field(repr=False)
    domain: str
    group: str
    vfolder_mounts: tuple[str, ...] = attrs.field(converter=_names)
    skip_ssl_validation: bool = attrs.field(converter=_bool)
    connection_timeout: float | None = attrs.field(converter=_seconds)
    read_timeout: float | None = attrs.field(converter=_seconds)
    api_version: ApiVersion | None = attrs.field(converter=_version)
    hash_type: str

    def __init__(
        self,
        *,
        endpoint: str | URL | Iterable[str | URL] | None = None,
        endpoint_type: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        domain: str | None = None,
        group: str | None = None,
        vfolder_mounts: str | Iterable[str] = (),
        skip_ssl_validation: str | bool | None = None,
        connection_timeout: str | float | None = None,
        read_timeout: str | float | None = None,
        api_version: str | ApiVersion | None = None,
        hash_type: str = "sha256",
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env

        def setting(name: str, given: Any, default: Any) -> Any:
            if given is not None:
                return given
            return env.get(f"BACKEND_{name}", env.get(f"SORNA_{name}", default))

        self.__attrs_init__(
            endpoint=setting("ENDPOINT", endpoint, DEFAULT_ENDPOINT),
            endpoint_type=setting("ENDPOINT_TYPE", endpoint_type, "api"),
            access_key=setting("ACCESS_KEY", access_key, ""),
            secret_key=setting("SECRET_KEY", secret_key, ""),
            domain=setting("DOMAIN", domain, "default"),
            group=setting("GROUP", group, "default"),
            vfolder_mounts=_names(setting("VFOLDER_MOUNTS", None, "")) + _names(vfolder_mounts),
            skip_ssl_validation=setting("SKIP_SSLCERT_VALIDATION", skip_ssl_validation, False),
            connection_timeout=setting("CONNECTION_TIMEOUT", connection_timeout, 10.0),
            read_timeout=setting("READ_TIMEOUT", read_timeout, None),
            api_version=setting("API_VERSION", api_version, None),
            hash_type=hash_type,
        )

    @property
    def endpoint(self) -> URL:
        """The first (preferred) endpoint."""
        return self.endpoints[0]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> APIConfig:
        """``APIConfig(env=env, **overrides)``: settings from ``env``, ``overrides`` win."""
        return cls(env=env, **overrides)

    @staticmethod
    def endpoint_configured(env: Mapping[str, str] | None = None) -> bool:
        """Whether the environment names a manager (else the caller may start the embedded one)."""
        env = os.environ if env is None else env
        return bool(env.get("BACKEND_ENDPOINT", env.get("SORNA_ENDPOINT", "")).strip())
