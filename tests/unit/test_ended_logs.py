"""The ended sessions' logs kept for get_logs: bounded, looked up as live sessions are."""

from __future__ import annotations

import uuid
from pathlib import Path

from bai_bridge.local.ended_logs import EndedLogs, EndedSession, read_tail

KEY = "AKTESTKEY"


def ended(name: str, logs: str = "", key: str = KEY) -> EndedSession:
    return EndedSession(uuid.uuid4(), name, key, logs)


def test_the_oldest_make_way() -> None:
    kept = EndedLogs(keep=2)
    first, second, third = ended("a"), ended("b"), ended("c")
    for item in (first, second, third):
        kept.add(item)
    assert kept.find(KEY, "a", exact=True) is None
    assert kept.find(KEY, "b", exact=True) == second
    assert kept.find(KEY, "c", exact=True) == third


def test_lookup_by_name_id_prefix_and_owner() -> None:
    kept = EndedLogs()
    older, newer = ended("job", "old run"), ended("job", "new run")
    other = ended("job", "someone else's", key="AKOTHER")
    for item in (older, newer, other):
        kept.add(item)
    assert kept.find(KEY, "job", exact=True) == newer
    assert kept.find(KEY, str(older.id)[:8], exact=False) == older
    assert kept.find(KEY, "jo", exact=False) == newer
    assert kept.find(KEY, "jo", exact=True) is None
    assert kept.find("AKOTHER", "job", exact=True) == other
    assert kept.find("AKNOBODY", "job", exact=False) is None


def test_read_tail_keeps_the_end(tmp_path: Path) -> None:
    log = tmp_path / "console.log"
    log.write_bytes(b"x" * 100 + b"the end\n")
    assert read_tail(log, size=8) == "the end\n"
    assert read_tail(log, size=10_000).startswith("x" * 100)
    assert read_tail(tmp_path / "missing.log") == ""
