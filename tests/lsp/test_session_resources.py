"""The status carries the session's slots, and what its kernel uses after a run: read with
``get_info`` when the session is ready and when a run ends, never while it is idle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import Recorder, command, field, open_doc, run_selection

pytestmark = pytest.mark.asyncio(loop_scope="module")
GIB = 2**30
BLOB = 256 * 2**20


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return tmp_path_factory.mktemp(f"resources-{profile}")


@pytest.fixture(scope="module")
def bridge_options() -> dict[str, Any]:
    return {"resources": {"cpu": 2, "mem": "1g"}}


def resources(bridge: Recorder) -> dict[str, Any] | None:
    last = bridge.statuses[-1] if bridge.statuses else None
    if last is None or last["state"] not in ("running", "busy"):
        return None
    found: dict[str, Any] | None = last.get("resources")
    return found


async def test_the_status_carries_the_slots_and_the_usage(
    client: LanguageClient, bridge: Recorder, workspace: Path
) -> None:
    held = await bridge.wait_for("the slots in the status", lambda: resources(bridge))
    assert (held["cpu"], held["memory"]) == (2, GIB)
    assert held.get("gpu") is None
    before = held["memoryUsed"]
    assert before > 0  # the embedded server reports its kernel's resident memory

    uri = open_doc(client, workspace / "grow.py", f"blob = b'x' * {BLOB}\n")
    result = await run_selection(client, uri, 0)
    assert field(result, "status") == "finished"
    grown = await bridge.wait_for(
        "the memory the run took",
        lambda: (r := resources(bridge)) and r["memoryUsed"] >= before + BLOB * 0.95 and r,
    )
    assert (grown["cpu"], grown["memory"]) == (2, GIB)


async def test_session_info_reads_the_slots_for_a_person(
    client: LanguageClient, bridge: Recorder
) -> None:
    await bridge.wait_for("the session", lambda: resources(bridge))
    info = await command(client, protocol.SESSION_INFO)
    held = field(info, "resources")
    assert (field(held, "cpu"), field(held, "memory")) == (2, GIB)
    assert "Decimal('2')" in field(info, "occupiedSlots")
