"""Proofs fetched ahead: what proves an edited file may replace its session copy.

The session's side is a stand-in for `remote_digests` (the copy's content, as its hash): the
rule itself is what is tested. A copy proves the file only while the manifest still holds the
content the fetch was asked against; the record of the copy's stat landing meanwhile (sync's
bookkeeping behind the previous upload) changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from bai_bridge.lsp import sync_proofs
from bai_bridge.lsp.sync_plan import UNLISTED, LocalFile, Manifest, ManifestEntry, RemoteStat
from bai_bridge.lsp.sync_proofs import ProofsAhead

SENT, EDITED, OTHER = "0" * 64, "1" * 64, "2" * 64
FILE = LocalFile("pkg/a.py", 10, EDITED)


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The session copies' hashes by path; every fetch is recorded under "asked"."""
    copies = {"pkg/a.py": SENT}
    asked: list[list[str]] = []

    async def digests(_kernel: Any, sizes: Mapping[str, int], _wait: float) -> dict[str, str]:
        asked.append(sorted(sizes))
        return {p: copies[p] for p in sizes if p in copies}

    monkeypatch.setattr(sync_proofs, "remote_digests", digests)
    copies["asked"] = asked  # type: ignore[assignment]
    return copies


def manifest_with(entry: ManifestEntry) -> Manifest:
    return Manifest("s", {FILE.path: entry})


async def test_a_copy_as_sync_sent_it_proves_the_edit_once_the_session_is_given(
    session: dict[str, Any],
) -> None:
    manifest = manifest_with(ManifestEntry(SENT, 10, UNLISTED))
    proofs = ProofsAhead(manifest)
    proofs.offer([FILE, LocalFile("pkg/new.py", 1, OTHER)])  # not in the manifest: no fetch
    assert session["asked"] == []  # no session yet
    proofs.start(object())  # type: ignore[arg-type]
    assert await proofs.proven({FILE.path: FILE}) == [FILE]
    assert session["asked"] == [["pkg/a.py"]]


async def test_the_record_of_the_copys_stat_landing_meanwhile_keeps_the_proof(
    session: dict[str, Any],
) -> None:
    manifest = manifest_with(ManifestEntry(SENT, 10, UNLISTED))
    proofs = ProofsAhead(manifest)
    proofs.offer([FILE])
    proofs.start(object())  # type: ignore[arg-type]
    manifest.entries[FILE.path] = attrs.evolve(manifest.entries[FILE.path], mtime=1234.5)
    assert await proofs.proven({FILE.path: FILE}) == [FILE]


async def test_another_upload_meanwhile_voids_the_proof(session: dict[str, Any]) -> None:
    manifest = manifest_with(ManifestEntry(SENT, 10, 1.0))
    proofs = ProofsAhead(manifest)
    proofs.offer([FILE])
    proofs.start(object())  # type: ignore[arg-type]
    # a save sent other content after the fetch was asked for: the copy now holding the old
    # content was changed back in the session, and must not be replaced on this proof
    manifest.entries[FILE.path] = ManifestEntry(OTHER, 10, UNLISTED)
    assert await proofs.proven({FILE.path: FILE}) == []
    assert await proofs.digests({FILE.path: RemoteStat(10, 1.0)}) == {}


async def test_a_changed_copy_or_a_standing_conflict_proves_nothing(
    session: dict[str, Any],
) -> None:
    session["pkg/a.py"] = OTHER  # edited in the session too
    proofs = ProofsAhead(manifest_with(ManifestEntry(SENT, 10, 1.0)))
    proofs.offer([FILE])
    proofs.start(object())  # type: ignore[arg-type]
    assert await proofs.proven({FILE.path: FILE}) == []
    standing = ProofsAhead(manifest_with(ManifestEntry(SENT, 10, 1.0)), [FILE.path])
    standing.offer([FILE])
    standing.start(object())  # type: ignore[arg-type]
    assert await standing.proven({FILE.path: FILE}) == []
    assert session["asked"] == [["pkg/a.py"]]  # the conflict's copy was not fetched
