"""`POST /admin/gql`: the session list the official client's `paginated_list` asks for,
answered by a real GraphQL executor: pages, the caller's sessions only, arguments, and
errors in GraphQL's shape (bad JSON stays a problem+json)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from bai_bridge.local.context import CONTEXT
from bai_bridge.local.serve import RunningServer
from serverkit import SignedClient

IMAGE = "python:3.11-ubuntu20.04"

# Exactly what backend.ai-client 23.9.10 and 26.9.6 send (client/pagination.py), with the
# fields a picker wants.
QUERY = """query($limit:Int!, $offset:Int!, $status: String, $access_key: String, $filter: String, $order: String) {
  compute_session_list(
      limit:$limit, offset:$offset, status:$status, access_key:$access_key, filter:$filter, order:$order) {
    items { id name image type status status_info status_changed created_at occupying_slots containers { id occupied_slots live_stat } }
    total_count
  }
}"""  # noqa: E501


async def gql(client: SignedClient, query: str = QUERY, **variables: Any) -> dict[str, Any]:
    base = {"status": None, "access_key": None, "filter": None, "order": None}
    body = {"query": query, "variables": {**base, **variables}}
    reply = await client.request("POST", "/admin/gql", json_body=body)
    assert reply.status == 200, reply.body
    answer: dict[str, Any] = reply.json()
    return answer


def names(answer: dict[str, Any]) -> list[str]:
    return [item["name"] for item in answer["data"]["compute_session_list"]["items"]]


def second_client(server: RunningServer, client: SignedClient) -> SignedClient:
    """A client with a keypair of its own (another user of the same server)."""
    access, secret = "AKOTHER" + secrets.token_hex(6).upper(), secrets.token_urlsafe(30)
    server.app[CONTEXT].keys[access] = secret
    return SignedClient(client.endpoint, access, secret, client.session)


async def test_pages_of_the_callers_sessions_newest_first(
    local_server: RunningServer, client: SignedClient
) -> None:
    other = second_client(local_server, client)
    await other.create("list-not-mine")
    for name in ("list-one", "list-two", "list-three"):
        await client.create(name, IMAGE, config={"resources": {"cpu": 1, "mem": "1g"}})

    first = await gql(client, limit=2, offset=0)
    assert names(first) == ["list-three", "list-two"]
    assert first["data"]["compute_session_list"]["total_count"] == 3
    rest = await gql(client, limit=2, offset=2)
    assert names(rest) == ["list-one"]
    assert await gql(client, limit=2, offset=3) == {
        "data": {"compute_session_list": {"items": [], "total_count": 3}}
    }
    assert names(await gql(other, limit=10, offset=0)) == ["list-not-mine"]

    item = first["data"]["compute_session_list"]["items"][0]
    assert (item["image"], item["type"], item["status"]) == (IMAGE, "INTERACTIVE", "RUNNING")
    # JSONString fields are JSON text inside the JSON answer, as Graphene sends them.
    assert json.loads(item["occupying_slots"]) == {"cpu": "1", "mem": str(1 << 30)}
    container = item["containers"][0]
    assert json.loads(container["occupied_slots"]) == {"cpu": "1", "mem": str(1 << 30)}
    assert int(json.loads(container["live_stat"])["mem"]["current"]) > 0  # the kernel's RSS
    assert item["created_at"] <= item["status_changed"]


async def test_status_filter_and_order_arguments(client: SignedClient) -> None:
    for name in ("order-b", "order-a", "other-c"):
        await client.create(name, IMAGE)
    assert names(await gql(client, limit=10, offset=0, order="+name")) == [
        "order-a",
        "order-b",
        "other-c",
    ]
    assert names(await gql(client, limit=10, offset=0, filter='name ilike "ORDER-%"')) == [
        "order-a",
        "order-b",
    ]
    picked = await gql(
        client, limit=10, offset=0, filter='name != "order-a" & image == "' + IMAGE + '"'
    )
    assert sorted(names(picked)) == ["order-b", "other-c"]
    assert names(await gql(client, limit=10, offset=0, status="PENDING,TERMINATED")) == []
    assert len(names(await gql(client, limit=10, offset=0, status="RUNNING"))) == 3

    bad_status = await gql(client, limit=10, offset=0, status="SLEEPING")
    assert bad_status["data"] == {"compute_session_list": None}
    assert bad_status["errors"][0]["message"] == "unknown session status: SLEEPING"
    assert bad_status["errors"][0]["path"] == ["compute_session_list"]
    bad_filter = await gql(client, limit=10, offset=0, filter="name = 1")
    assert "filter: cannot read" in bad_filter["errors"][0]["message"]


async def test_bad_queries_are_graphql_errors_and_bad_json_a_problem(
    client: SignedClient,
) -> None:
    unknown = await gql(
        client, "{ compute_session_list(limit: 1, offset: 0) { items { password_hash } } }"
    )
    assert unknown["data"] is None
    assert unknown["errors"][0]["message"] == (
        "Cannot query field 'password_hash' on type 'ComputeSession'."
    )
    assert unknown["errors"][0]["locations"] == [{"line": 1, "column": 55}]
    missing = await gql(client, "{ compute_session_list(offset: 0) { total_count } }")
    assert missing["errors"][0]["message"] == (
        "Argument 'Query.compute_session_list(limit:)' of type 'Int!' is required,"
        " but it was not provided."
    )
    syntax = await gql(client, "{ compute_session_list(")
    assert syntax["errors"][0]["message"].startswith("Syntax Error")

    for body in (b"{not json", b'{"variables": {}}', b'{"query": "{}", "variables": [1]}'):
        reply = await client.request("POST", "/admin/gql", data=body)
        assert reply.status == 400, body
        assert reply.headers["Content-Type"].startswith("application/problem+json")
        assert reply.problem_type == "invalid-api-params"

    unsigned = await client.request("POST", "/admin/gql", json_body={"query": "{}"}, sign=False)
    assert unsigned.status == 400
    assert unsigned.problem_type == "invalid-auth-params"  # as for every other endpoint


async def test_clients_before_v6_get_the_data_alone(client: SignedClient) -> None:
    await client.create("legacy-list", IMAGE)
    query = "{ compute_session_list(limit: 5, offset: 0) { items { name } total_count } }"
    reply = await client.request(
        "POST", "/admin/graphql", json_body={"query": query}, version="v4.20190615"
    )
    assert reply.status == 200
    assert reply.json() == {
        "compute_session_list": {"items": [{"name": "legacy-list"}], "total_count": 1}
    }
    wrong = await client.request(
        "POST", "/admin/graphql", json_body={"query": "{ nothing }"}, version="v4.20190615"
    )
    assert wrong.status == 400
    assert wrong.problem_type == "graphql-error"
    assert wrong.json()["data"][0]["message"] == "Cannot query field 'nothing' on type 'Query'."
