"""`list_sessions`: the caller's sessions through the manager's GraphQL list, against the
embedded server as a v4 (`/admin/graphql`), v8 and v9 client (`/admin/gql`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_support import Embedded

from bai_bridge.api import APISession, BackendAPIError, list_sessions

VERSIONS = {"v4": "v4.20190615", "v8": "v8.20240915", "v9": "v9.20250722"}


@pytest.fixture(params=sorted(VERSIONS))
async def api(request: pytest.FixtureRequest, embedded: Embedded) -> AsyncIterator[APISession]:
    async with APISession(embedded.client(VERSIONS[request.param])) as session:
        yield session


async def test_lists_pages_of_typed_sessions(api: APISession, embedded: Embedded) -> None:
    first = await api.Kernel.get_or_create("python", client_token="listed-first")
    second = await api.Kernel.get_or_create(
        "python:3.11", client_token="listed-second", resources={"cpu": 2, "mem": "2g"}
    )
    page = await list_sessions(api, limit=1)
    assert page.total_count == 2
    (newest,) = page.items
    assert (newest.name, newest.image, newest.status, newest.type) == (
        "listed-second",
        "python:3.11",
        "RUNNING",
        "INTERACTIVE",
    )
    if second.session_id is not None:  # v4 sessions are known by name only
        assert newest.id == second.session_id
    allocation = newest.allocation()
    assert allocation is not None
    assert (allocation.cpu, allocation.mem) == (2.0, 2 << 30)
    created = newest.created()
    assert created is not None
    assert created.tzinfo is not None
    rest = await list_sessions(api, limit=1, offset=1)
    assert [s.name for s in rest.items] == ["listed-first"]
    assert (await list_sessions(api, status="TERMINATED")).items == []
    path = "/admin/graphql" if api.api_version.major < 6 else "/admin/gql"
    assert any(r.path == path for r in embedded.recorder.requests)
    await first.destroy()
    assert [s.name for s in (await list_sessions(api)).items] == ["listed-second"]


async def test_refusals(api: APISession) -> None:
    with pytest.raises(ValueError, match="limit must be 1 to 100"):
        await list_sessions(api, limit=101)
    if api.api_version.major < 6:
        with pytest.raises(ValueError, match="need API v6"):
            await list_sessions(api, order="+name")
        return
    with pytest.raises(BackendAPIError) as refused:
        await list_sessions(api, status="SLEEPING")
    assert refused.value.type == "graphql-error"
    assert refused.value.msg == "unknown session status: SLEEPING"
    named = await list_sessions(api, filter='name == "nothing-here"', order="-name")
    assert named.total_count == 0
