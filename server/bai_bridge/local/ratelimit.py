"""Per-keypair request counting over a rolling 15-minute window (protocol doc §6.3)."""

from __future__ import annotations

import collections
import time

import attrs

WINDOW_SECONDS = 900
ANONYMOUS_LIMIT = 1000


@attrs.frozen
class RateInfo:
    limit: int
    remaining: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Window": str(WINDOW_SECONDS),
        }


ANONYMOUS = RateInfo(ANONYMOUS_LIMIT, ANONYMOUS_LIMIT)


class RateLimiter:
    """Counts each access key's requests in the last 15 minutes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._hits: dict[str, collections.deque[float]] = {}

    def hit(self, access_key: str, now: float | None = None) -> RateInfo:
        """Count one request; ``remaining`` below zero means it is over the limit."""
        now = time.monotonic() if now is None else now
        hits = self._hits.setdefault(access_key, collections.deque())
        while hits and hits[0] <= now - WINDOW_SECONDS:
            hits.popleft()
        hits.append(now)
        return RateInfo(self.limit, self.limit - len(hits))
