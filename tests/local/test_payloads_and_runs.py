"""Pure parts: request parsing per API version (§3.1, §3.8) and the run buffer (§4)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bai_bridge.local.errors import BodySchemaInvalid, InvalidParams
from bai_bridge.local.payloads import parse_batch_options, parse_create, parse_execute
from bai_bridge.local.resources import normalize_resources, parse_size
from bai_bridge.local.runs import Marker, Record, Run
from bai_bridge.local.versioning import ApiVersion

V4, V5, V6, V7, V8, V9 = (
    ApiVersion.parse(v)
    for v in (
        "v4.20190615",
        "v5.20191215",
        "v6.20200815",
        "v7.20230615",
        "v8.20240915",
        "v9.20250722",
    )
)


def test_name_field_per_version() -> None:
    assert parse_create({"clientSessionToken": "abcd", "image": "python"}, V4).name == "abcd"
    with pytest.raises(InvalidParams) as caught:
        parse_create({"name": "abcd", "image": "python"}, V4)
    assert caught.value.data == {"name": "name is not allowed key"}
    for key in ("name", "clientSessionToken", "session_name"):
        assert parse_create({key: "abcd", "image": "python"}, V5).name == "abcd"


@pytest.mark.parametrize(
    ("field", "value", "first"),
    [
        ("starts_at", "1h", V5),
        ("clusterSize", 1, V6),
        ("architecture", "x86_64", V7),
        ("priority", 10, V8),
        ("batch_timeout", 60, V9),
        ("job_priority", 1, V9),
        ("is_preemptible", False, V9),
    ],
)
def test_fields_appear_with_their_version(field: str, value: object, first: ApiVersion) -> None:
    older = {V5: V4, V6: V5, V7: V6, V8: V7, V9: V8}[first]
    body = {"name": "abcd", "image": "python", field: value}
    parse_create(body, first)
    with pytest.raises(InvalidParams):
        parse_create(body, older)


FOLDER = "0b6a9d5e-0c43-4d2a-9a39-1f2b3c4d5e6f"


@pytest.mark.parametrize(
    ("field", "value", "parsed"),
    [
        ("mount_ids", [FOLDER], [uuid.UUID(FOLDER)]),
        ("mount_id_map", {FOLDER: "/home/work/x"}, {uuid.UUID(FOLDER): "/home/work/x"}),
        ("attach_network", FOLDER, uuid.UUID(FOLDER)),
    ],
)
def test_config_fields_of_v9(field: str, value: object, parsed: object) -> None:
    body = {"name": "abcd", "image": "python", "config": {field: value}}
    assert getattr(parse_create(body, V9).config, field) == parsed
    with pytest.raises(InvalidParams) as caught:
        parse_create(body, V8)
    assert caught.value.data == {f"config.{field}": f"{field} is not allowed key"}


def test_v9_ignores_unknown_keys_as_26_x_does() -> None:
    body = {"name": "abcd", "image": "python", "future": 1, "config": {"later": True}}
    assert parse_create(body, V9).name == "abcd"
    with pytest.raises(InvalidParams):
        parse_create(body, V8)


def test_v9_checks_types_and_ranges() -> None:
    def create(version: ApiVersion, **fields: object) -> object:
        return parse_create({"name": "abcd", "image": "python", **fields}, version)

    # The request model fails (generic-bad-request) at v9, a trafaret check before.
    with pytest.raises(BodySchemaInvalid):
        create(V9, priority=101)
    with pytest.raises(InvalidParams) as caught:
        create(V8, priority=101)
    assert not isinstance(caught.value, BodySchemaInvalid)
    with pytest.raises(BodySchemaInvalid):
        create(V9, is_preemptible="yes")
    with pytest.raises(InvalidParams) as caught:
        create(V9, config={"mount_ids": ["not-a-uuid"]})
    assert not isinstance(caught.value, BodySchemaInvalid)  # config: invalid-api-params
    assert "config.mount_ids[0]" in caught.value.data
    # 24.09 kept preopen ports in 1024-65535; 26.x only keeps them off the reserved ones.
    assert create(V9, config={"preopen_ports": [80]}).config.preopen_ports == [80]
    with pytest.raises(InvalidParams):
        create(V8, config={"preopen_ports": [80]})
    for version in (V8, V9):
        with pytest.raises(InvalidParams, match="reserved ports"):
            create(version, config={"preopen_ports": [7681]})
    assert create(V9, batch_timeout="5m").batch_timeout == 300
    assert create(V9, batch_timeout=90.5).batch_timeout == 90
    for bad in ("-1", "1yr", True, "soon"):
        with pytest.raises(BodySchemaInvalid):
            create(V9, batch_timeout=bad)
    option = create(V9, config={"mount_options": {"f": {"perm": "rw", "extra": 1}}})
    assert option.config.mount_options["f"].permission == "rw"
    with pytest.raises(InvalidParams):
        create(V9, config={"mount_options": {"f": {"type": "nfs"}}})


def test_the_official_23_09_create_body_is_accepted() -> None:
    body = {
        "tag": None,
        "name": "pysdk-someone",
        "config": {
            "mounts": [],
            "environ": None,
            "resources": {},
            "resource_opts": {},
            "scalingGroup": None,
            "mount_map": {},
            "preopen_ports": None,
        },
        "dependencies": None,
        "callback_url": None,
        "architecture": "x86_64",
        "clusterSize": 1,
        "clusterMode": "single-node",
        "starts_at": None,
        "bootstrap_script": None,
        "owner_access_key": None,
        "domain": "default",
        "group": "default",
        "type": "interactive",
        "enqueueOnly": False,
        "maxWaitSeconds": 0,
        "reuseIfExists": True,
        "startupCommand": None,
        "image": "python:3.11-ubuntu20.04",
    }
    request = parse_create(body, V7)
    assert (request.name, request.reuse_if_exists, request.config.environ) == (
        "pysdk-someone",
        True,
        {},
    )


def test_execute_and_batch_options() -> None:
    request = parse_execute({"mode": "batch", "runId": None, "code": None, "options": None})
    assert (request.mode, request.code, request.options) == ("batch", "", {})
    options = parse_batch_options({"clean": "*", "build": None, "buildLog": True, "exec": "x"}, V8)
    assert (options.clean, options.build, options.exec, options.build_log) == ("*", None, "x", True)
    with pytest.raises(InvalidParams):
        parse_batch_options({"clean": 1}, V8)


def test_resource_amounts() -> None:
    assert parse_size("4g") == 4 << 30
    assert parse_size("512m") == 512 << 20
    assert normalize_resources({"cpu": 2, "mem": "1g", "cuda.shares": "0.5"}) == {
        "cpu": "2",
        "mem": str(1 << 30),
        "cuda.shares": "0.5",
    }
    for bad in ({"cpu": 0}, {"mem": "lots"}, {"cpu": True}, {"tpu": 1}):
        with pytest.raises(InvalidParams):
            normalize_resources(bad)


async def test_run_merges_streams_and_stops_at_markers() -> None:
    run = Run("r1")
    for item in (Record("stdout", "a"), Record("stdout", "b"), Record("stderr", "c")):
        await run.put(item)
    await run.put(Marker("waiting-input", None, {"is_password": False}))
    await run.put(Record("stdout", "d"))
    result = await run.next_result(5.0)
    assert (result.status, result.console) == ("waiting-input", [["stdout", "ab"], ["stderr", "c"]])
    assert run.waiting_input
    continued = await run.next_result(0.05)
    assert (continued.status, continued.console) == ("continued", [["stdout", "d"]])


async def test_a_window_its_client_never_got_comes_first_to_whoever_continues() -> None:
    """A dropped connection's follower is taken over by the client that continues the run:
    the window it was filling is put back, ahead of what comes after."""
    run = Run("r3")
    dropped = run.take_over()
    filling = asyncio.create_task(run.next_result(5.0, dropped))
    await run.put(Record("stdout", "a"))
    run.take_over()  # the client continues the run over HTTP
    resumed = asyncio.create_task(run.next_result(0.2))  # waits for the window being filled
    await run.put(Record("stdout", "b"))
    await run.put(Marker("finished", 0))
    assert await filling is None
    result = await resumed
    assert (result.status, result.console) == ("finished", [["stdout", "ab"]])
    again = await run.next_result(0.01)  # a finished window whose answer was lost, too
    assert again.console == []
    run.unread(result)
    assert (await run.next_result(0.01)).console == [["stdout", "ab"]]


async def test_run_buffer_is_bounded_and_end_never_blocks() -> None:
    run = Run("r2", limit=2)
    await run.put(Record("stdout", "1"))
    await run.put(Record("stdout", "2"))
    blocked = asyncio.create_task(run.put(Record("stdout", "3")))
    await asyncio.sleep(0)
    assert not blocked.done()  # the producer stalls while the buffer is full
    run.end(130, "stopped\n")  # ending does not wait for room
    result = await run.next_result(1.0)
    await blocked
    assert result.status == "finished"
    assert result.exit_code == 130
    assert result.console == [["stdout", "12"], ["stderr", "stopped\n"]]
