"""The official clients' `ComputeSession.paginated_list` (backend.ai-client 23.9.10, API v7,
and 26.9.6, API v9), unchanged, list sessions from the embedded server: every field they
know validates, pages, status, filter and order work, and a refusal reaches them as the
GraphQL error they raise (tests/peer/list_sessions.py prints what the client saw)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bai_bridge.local.serve import RunningServer
from serverkit import PEER_23, PEER_26, Peer, run_peer

pytestmark = pytest.mark.peer


@pytest.mark.parametrize("peer", [PEER_23, PEER_26], ids=["client-23.9", "client-26.9"])
async def test_official_client_lists_sessions(local_server: RunningServer, peer: Peer) -> None:
    server = local_server
    seen = await run_peer(
        "list_sessions.py", server.endpoint, server.access_key, server.secret_key, peer=peer
    )
    assert "containers { id cluster_role" in " ".join(seen["fields"])  # nested fields too
    default = seen["default"]
    assert default["total_count"] == 2
    assert [item["status"] for item in default["items"]] == ["RUNNING", "RUNNING"]
    assert set(default["items"][0]) == {
        "id", "image", "type", "status", "status_info", "status_changed", "result",
        "abusing_reports",
    }  # fmt: skip

    check_every_field(seen["every_field"], server.access_key)
    assert seen["second_page"]["items"][0]["id"] == default["items"][1]["id"]
    assert seen["running"]["total_count"] == 2
    assert seen["terminated"] == {"total_count": 0, "items": []}
    assert [i["id"] for i in seen["filtered"]["items"]] == [default["items"][1]["id"]]
    assert [i["id"] for i in seen["ordered"]["items"]] == [
        default["items"][1]["id"],
        default["items"][0]["id"],
    ]
    bad = seen["bad_status"]
    assert bad["error"] == "BackendAPIError"
    assert "graphql-error" in json.dumps(bad["data"])
    assert "unknown session status: SLEEPING" in json.dumps(bad["data"])


def check_every_field(page: dict[str, Any], access_key: str) -> None:
    assert page["total_count"] == 2
    (newest,) = page["items"]
    assert newest["name"] == "peer-list-b"  # newest first, as a manager orders them
    assert newest["access_key"] == access_key
    assert json.loads(newest["occupying_slots"]) == {"cpu": "1", "mem": str(1 << 30)}
    (container,) = newest["containers"]
    assert container["session_id"] == newest["id"]
    assert int(json.loads(container["live_stat"])["cpu_used"]["current"]) >= 0
    assert newest["dependencies"] == []
