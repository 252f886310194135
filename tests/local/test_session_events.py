"""Lifecycle events on both SSE paths (§5.1): authentication, filters, names per version."""

from __future__ import annotations

import asyncio

import pytest

from serverkit import SignedClient, open_stream, read_events

IMAGE = "python:3.11-ubuntu20.04"


@pytest.mark.parametrize("path", ["/events/session", "/stream/kernel/_/events"])
async def test_event_streams_need_a_signature(client: SignedClient, path: str) -> None:
    async with client.session.get(client.endpoint + path) as response:
        assert response.status == 400  # no Date header: checked before Authorization
    headers = client.sign("GET", path, "application/octet-stream", secret_key="wrong")
    async with client.session.get(client.endpoint + path, headers=headers) as response:
        assert response.status == 401
        assert (await response.json())["type"].endswith("/auth-failed")


async def test_v6_stream_filters_by_session_and_scope(client: SignedClient) -> None:
    created = await client.create("events-one", IMAGE)
    other = await client.create("events-two", IMAGE)
    stream = await open_stream(
        client, f"/events/session?sessionId={created['sessionId']}&scope=session"
    )
    try:
        await client.request("DELETE", "/session/events-two")
        await client.request("DELETE", "/session/events-one?forced=true")
        events = await asyncio.wait_for(read_events(stream, "session_terminated"), 30)
    finally:
        stream.close()
    assert [e["event"] for e in events] == ["session_terminated"]
    data = events[0]["data"]
    assert data["sessionId"] == created["sessionId"] != other["sessionId"]
    assert (data["sessionName"], data["reason"]) == ("events-one", "force-terminated")
    assert int(events[0]["id"]) > 0


async def test_v4_stream_uses_kernel_event_names(client: SignedClient) -> None:
    stream = await open_stream(
        client, "/stream/kernel/_/events?sessionId=events-v4", version="v4.20190615"
    )
    try:
        reply = await client.request(
            "POST",
            "/kernel/create",
            json_body={"clientSessionToken": "events-v4", "image": IMAGE},
            version="v4.20190615",
        )
        assert reply.json()["kernelId"] == "events-v4"
        await client.request("DELETE", "/kernel/events-v4", version="v4.20190615")
        events = await asyncio.wait_for(read_events(stream, "kernel_terminated"), 30)
    finally:
        stream.close()
    names = [e["event"] for e in events]
    assert "kernel_started" in names
    assert all(name.startswith("kernel_") for name in names)
    assert events[-1]["data"]["sessionId"] == "events-v4"


async def test_bad_session_id_filter_is_400(client: SignedClient) -> None:
    path = "/events/session?sessionId=not-a-uuid"
    reply = await client.request("GET", path)
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params")


async def test_group_filter_keeps_only_that_groups_sessions(client: SignedClient) -> None:
    await client.create("events-default-group", IMAGE)
    await client.create("events-lab-group", IMAGE, group="lab")
    stream = await open_stream(client, "/events/session?group=lab&scope=session")
    try:
        await client.request("DELETE", "/session/events-default-group")
        await client.request("DELETE", "/session/events-lab-group")
        events = await asyncio.wait_for(read_events(stream, "session_terminated"), 30)
    finally:
        stream.close()
    assert [e["data"]["sessionName"] for e in events] == ["events-lab-group"]


@pytest.mark.parametrize(
    ("path", "version", "slug"),
    [
        ("/events/session?group=nobody", "v8.20240915", "object-not-found"),
        ("/events/session?group=nobody", "v5.20191215", "group-not-found"),
        ("/stream/kernel/_/events?groupName=nobody", "v4.20190615", "group-not-found"),
    ],
)
async def test_unknown_group_filter_is_404(
    client: SignedClient, path: str, version: str, slug: str
) -> None:
    reply = await client.request("GET", path, version=version)
    assert (reply.status, reply.problem_type) == (404, slug)
