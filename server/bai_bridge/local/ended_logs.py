"""Console logs of ended sessions: a manager keeps a terminated kernel's container log in its
database, so `get_logs` still answers after a batch job ended by itself or a session was
destroyed. Here the tails of the last few sessions' logs stay in memory (bounded), since the
session's folder goes when it ends."""

from __future__ import annotations

import os
import uuid
from collections import OrderedDict
from pathlib import Path

import attrs

KEEP_SESSIONS = 16
KEEP_BYTES = 256 * 1024


@attrs.frozen
class EndedSession:
    id: uuid.UUID
    name: str
    access_key: str
    logs: str


def read_tail(log_file: Path, size: int = KEEP_BYTES) -> str:
    """The last ``size`` bytes of ``log_file`` ("" when there is none). Blocking."""
    try:
        with log_file.open("rb") as log_in:
            log_in.seek(max(0, os.fstat(log_in.fileno()).st_size - size))
            return log_in.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class EndedLogs:
    """The newest ``keep`` ended sessions, with their logs' tails; the oldest make way."""

    def __init__(self, keep: int = KEEP_SESSIONS) -> None:
        self.keep = keep
        self._ended: OrderedDict[uuid.UUID, EndedSession] = OrderedDict()

    def add(self, ended: EndedSession) -> None:
        self._ended[ended.id] = ended
        while len(self._ended) > self.keep:
            self._ended.popitem(last=False)

    def find(self, access_key: str, sid: str, *, exact: bool) -> EndedSession | None:
        """The newest ended session of ``access_key`` that ``sid`` names: its exact name (v4),
        else a UUID prefix, then a name prefix (v5+), as live sessions are looked up."""
        own = [e for e in reversed(self._ended.values()) if e.access_key == access_key]
        if exact:
            return next((e for e in own if e.name == sid), None)
        by_id = [e for e in own if sid and str(e.id).startswith(sid.lower())]
        by_name = [e for e in own if e.name == sid] or [e for e in own if e.name.startswith(sid)]
        return next(iter(by_id or by_name), None)
