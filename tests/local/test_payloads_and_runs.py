"""Pure parts: request parsing per API version (§3.1, §3.8) and the run buffer (§4)."""

from __future__ import annotations

import asyncio

import pytest

from bai_bridge.local.errors import InvalidParams
from bai_bridge.local.payloads import parse_batch_options, parse_create, parse_execute
from bai_bridge.local.resources import normalize_resources, parse_size
from bai_bridge.local.runs import Marker, Record, Run
from bai_bridge.local.versioning import ApiVersion

V4, V5, V6, V7, V8 = (
    ApiVersion.parse(v)
    for v in ("v4.20190615", "v5.20191215", "v6.20200815", "v7.20230615", "v8.20240915")
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
    ],
)
def test_fields_appear_with_their_version(field: str, value: object, first: ApiVersion) -> None:
    older = {V5: V4, V6: V5, V7: V6, V8: V7}[first]
    body = {"name": "abcd", "image": "python", field: value}
    parse_create(body, first)
    with pytest.raises(InvalidParams):
        parse_create(body, older)


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
