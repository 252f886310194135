"""Configuration of the embedded session server and its keypair."""

from __future__ import annotations

import enum
import json
import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

import attrs

log = logging.getLogger(__name__)

KEYPAIR_FILE = "keypair.json"
PROFILE_ENV = "BAI_BRIDGE_PROFILE"


class ServerProfile(enum.StrEnum):
    """Which server the embedded one behaves as.

    EMBEDDED keeps the fast paths only this server has (a kernel subshell answers
    ``complete()`` during a run). CLUSTER behaves as a Backend.AI 26.x cluster does where the
    two are known to differ (protocol doc §12): ``complete()`` answers nothing, as the Python
    kernel runner's is a TODO; the kernel has no subshell, so everything waits behind a
    running cell; PTY output comes in BINARY frames.
    """

    EMBEDDED = "embedded"
    CLUSTER = "cluster"


def parse_profile(text: str, source: str) -> ServerProfile:
    """A profile name; a ValueError that names ``source`` and the choices otherwise."""
    try:
        return ServerProfile(text.strip().lower())
    except ValueError:
        choices = ", ".join(p.value for p in ServerProfile)
        raise ValueError(f"{source}: unknown server profile {text!r} (one of {choices})") from None


def profile_from_env(env: Mapping[str, str]) -> ServerProfile:
    """The profile ``BAI_BRIDGE_PROFILE`` names; EMBEDDED when it is unset or empty."""
    text = env.get(PROFILE_ENV, "")
    return parse_profile(text, PROFILE_ENV) if text.strip() else ServerProfile.EMBEDDED


@attrs.frozen
class Keypair:
    access_key: str
    secret_key: str = attrs.field(repr=False)


def generate_keypair() -> Keypair:
    # Same shapes as Backend.AI keys: AKIA + 16 upper-case characters, 40-character secret.
    access = "AKIA" + secrets.token_hex(8).upper()
    return Keypair(access, secrets.token_urlsafe(30)[:40])


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "bai-bridge"


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "bai-bridge"


def stored_keypair(directory: Path | None = None) -> Keypair:
    """The user's keypair, generated on first use and kept readable by the user only."""
    directory = directory or config_dir()
    path = directory / KEYPAIR_FILE
    if path.exists():
        data = json.loads(path.read_text())
        return Keypair(str(data["access_key"]), str(data["secret_key"]))
    keypair = generate_keypair()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump({"access_key": keypair.access_key, "secret_key": keypair.secret_key}, out)
    os.replace(tmp, path)
    log.info("generated a new keypair in %s", path)
    return keypair


def keypair_from_env_or_store() -> tuple[Keypair, str]:
    """The keypair to serve with, and where it came from (said at start-up, never the secret)."""
    access = os.environ.get("BACKEND_ACCESS_KEY")
    secret = os.environ.get("BACKEND_SECRET_KEY")
    if access and secret:
        return Keypair(access, secret), "BACKEND_ACCESS_KEY/BACKEND_SECRET_KEY"
    return stored_keypair(), str(config_dir() / KEYPAIR_FILE)


@attrs.frozen
class LocalConfig:
    """Everything the server needs; file limits default to the real manager's."""

    data_dir: Path = attrs.field(converter=Path)
    access_key: str
    secret_key: str = attrs.field(repr=False)
    host: str = "127.0.0.1"
    port: int = 8081
    max_upload_files: int = 20
    max_upload_file_size: int = 1 << 20
    max_download_paths: int = 5
    max_download_size: int = 1 << 20
    http_flush_window: float = 2.0
    ws_flush_window: float = 0.2
    event_ping_interval: float = 15.0
    run_queue_size: int = 4096
    # Requests per access key in a rolling 15 minutes (real keypairs have such a limit too).
    rate_limit: int = 100_000
    profile: ServerProfile = attrs.field(default=ServerProfile.EMBEDDED, converter=ServerProfile)
    # A connection whose next request head is not complete this long after it opened (or
    # after the previous answer) is closed: idle keep-alive, or a head sent a byte at a time.
    header_timeout: float = 75.0
    # A request body must arrive whole within this long of its head (20 MiB of uploads at
    # 100 KiB/s take 205 s).
    body_timeout: float = 300.0

    @classmethod
    def with_keypair(cls, keypair: Keypair, **kwargs: object) -> LocalConfig:
        return cls(access_key=keypair.access_key, secret_key=keypair.secret_key, **kwargs)  # type: ignore[arg-type]
