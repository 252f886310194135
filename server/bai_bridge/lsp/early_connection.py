"""The manager's connection, opened while the language server starts.

A language server started with ``BACKEND_ENDPOINT`` knows where it will connect before its
client says `initialize`. Opening the connection then (the TCP and TLS handshakes and the
version's ``GET /``) overlaps those round trips with the server's own start-up (importing its
modules takes longer than two of them), so the session's create is the first round trip after
`initialized`. The start takes the connection only if its settings name the same one.
"""

from __future__ import annotations

import logging

from bai_bridge.api import APIConfig, APISession

__all__ = ["EarlyConnection"]

log = logging.getLogger(__name__)


class EarlyConnection:
    """An API session opened ahead of the start, for the start to take or for closing."""

    def __init__(self, api: APISession) -> None:
        self._api = api
        self._taken = False

    @classmethod
    async def open_from_env(cls) -> EarlyConnection | None:
        """Opened on ``BACKEND_*``; None when no endpoint is named or the settings are not
        usable (the start reads them again and says what is wrong)."""
        if not APIConfig.endpoint_configured():
            return None
        try:
            config = APIConfig.from_env()
        except Exception as e:
            log.info("no early connection: %s", e)
            return None
        api = APISession(config)
        await api.open(wait_for_version=False)
        return cls(api)

    def take(self, config: APIConfig) -> APISession | None:
        """The open session if it is for ``config`` (once); else None."""
        if self._taken or self._api.config != config:
            return None
        self._taken = True
        return self._api

    async def close(self) -> None:
        """Close the session unless the start took it (then it is the start's to close)."""
        if not self._taken:
            self._taken = True
            await self._api.close()
