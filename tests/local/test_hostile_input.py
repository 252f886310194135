"""Bad requests get a clear 4xx problem+json, never a crash (protocol doc §3.1, §6)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bai_bridge.local.context import CONTEXT
from bai_bridge.local.serve import RunningServer, start_server
from serverkit import Reply, SignedClient, random_config

IMAGE = "python:3.11-ubuntu20.04"


async def test_malformed_json_is_invalid_api_params(client: SignedClient) -> None:
    reply = await client.request(
        "POST",
        "/session",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
        sign=False,
    )
    assert (reply.status, reply.problem_type) == (400, "invalid-auth-params")  # auth first
    headers = client.sign("POST", "/session", "application/json")
    reply = await client.request(
        "POST",
        "/session",
        data=b"{not json",
        sign=False,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        400,
        "invalid-api-params",
        "Malformed body",
    )


async def test_unknown_fields_are_listed(client: SignedClient) -> None:
    body = {"name": "sess-unknown", "image": IMAGE, "colour": "blue", "config": {"gpus": 2}}
    reply = await client.request("POST", "/session", json_body=body)
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params")
    assert "colour" in reply.json()["data"]


async def test_unknown_config_fields_are_listed(client: SignedClient) -> None:
    body = {"name": "sess-unknown", "image": IMAGE, "config": {"gpus": 2}}
    reply = await client.request("POST", "/session", json_body=body)
    assert reply.status == 400
    assert "config.gpus" in reply.json()["data"]


async def test_cluster_size_lives_where_the_version_says(client: SignedClient) -> None:
    body = {"name": "sess-cluster", "image": IMAGE, "config": {"clusterSize": 1}}
    reply = await client.request("POST", "/session", json_body=body)  # v8: top level only
    assert reply.status == 400
    assert "config.clusterSize" in reply.json()["data"]
    reply = await client.request(
        "POST", "/session", json_body={**body, "config": {"clusterSize": 2}}, version="v5.20191215"
    )
    assert reply.status == 400
    assert "clusterSize" in reply.json()["msg"]


@pytest.mark.parametrize(
    "name", ["abc", "x" * 65, "-abc", "abc-", "has space", "ünï-code", "a/b/c", "../etc"]
)
async def test_invalid_names_are_rejected(client: SignedClient, name: str) -> None:
    reply = await client.request("POST", "/session", json_body={"name": name, "image": IMAGE})
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params"), name
    assert "name" in reply.json()["data"]


@pytest.mark.parametrize(
    "body",
    [
        {"image": IMAGE},
        {"name": "okname"},
        {"name": 12345, "image": IMAGE},
        {"name": "okname", "image": IMAGE, "enqueueOnly": "yes"},
        {"name": "okname", "image": IMAGE, "maxWaitSeconds": -1},
        {"name": "okname", "image": IMAGE, "type": "weird"},
        {"name": "okname", "image": IMAGE, "type": "batch"},
        {"name": "okname", "image": IMAGE, "config": []},
        {"name": "okname", "image": IMAGE, "config": {"environ": {"A": 1}}},
        {"name": "okname", "image": IMAGE, "config": {"resources": {"gpu": 1}}},
        {"name": "okname", "image": IMAGE, "config": {"resources": {"cpu": "lots"}}},
        {"name": "okname", "image": IMAGE, "config": {"resources": {"mem": "-4g"}}},
        {"name": "okname", "image": IMAGE, "config": {"resources": {"cuda.device": 1.5}}},
        {"name": "okname", "image": IMAGE, "config": {"mounts": ["../escape"]}},
        {"name": "okname", "image": IMAGE, "config": {"mount_map": {"data": "/etc/data"}}},
        {"name": "okname", "image": IMAGE, "bootstrap_script": "not base64!"},
        [1, 2, 3],
    ],
)
async def test_bad_create_parameters_are_400(client: SignedClient, body: object) -> None:
    reply = await client.request("POST", "/session", json_body=body)
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params"), reply.body


async def test_unknown_image_lists_what_exists(client: SignedClient) -> None:
    reply = await client.request(
        "POST", "/session", json_body={"name": "okname", "image": "cobol:85"}
    )
    assert reply.status == 404
    data = reply.json()["data"]
    assert data["image"] == "cobol:85"
    assert any("python3" in item for item in data["available"])
    reply = await client.request(
        "POST", "/session", json_body={"name": "okname", "image": "cobol:85"}, version="v5.20191215"
    )
    assert reply.problem_type == "image-not-found"


@pytest.mark.parametrize(
    ("version", "path", "slug"),
    [
        ("v4.20190615", "/kernel/missing", "kernel-not-found"),
        ("v5.20191215", "/session/missing", "session-not-found"),
        ("v6.20210815", "/session/missing", "session-not-found"),
        ("v6.20220315", "/session/missing", "object-not-found"),
        ("v8.20240915", "/session/missing", "object-not-found"),
    ],
)
async def test_not_found_type_follows_the_version(
    client: SignedClient, version: str, path: str, slug: str
) -> None:
    reply = await client.request("GET", path, version=version)
    assert (reply.status, reply.problem_type) == (404, slug)


async def test_unknown_route_and_wrong_method(client: SignedClient) -> None:
    reply = await client.request("GET", "/no/such/route")
    assert (reply.status, reply.problem_type, reply.json()["data"]) == (
        404,
        "url-not-found",
        "/no/such/route",
    )
    reply = await client.request("GET", "/no/such/route", version="v5.20191215")
    assert reply.problem_type == "generic-not-found"
    reply = await client.request("PUT", "/session/x")
    assert (reply.status, reply.problem_type) == (405, "method-not-allowed")


@pytest.mark.parametrize(
    ("body", "msg"),
    [
        ({"code": "1", "runId": None}, "mode is missing or empty!"),
        ({"mode": "eval", "code": "1", "runId": None}, "mode has an invalid value."),
        ({"mode": "query", "code": "1"}, "runId is missing!"),
        ({"mode": "continue", "code": "", "runId": None}, "continuation requires explicit run ID"),
    ],
)
async def test_execute_parameter_errors(
    client: SignedClient, body: dict[str, object], msg: str
) -> None:
    # Parameters are validated before the session is looked up, as the manager does.
    reply = await client.request("POST", "/session/nobody", json_body=body)
    assert (reply.status, reply.problem_type, reply.json()["msg"]) == (
        400,
        "invalid-api-params",
        msg,
    )


# --- text that is not what it claims to be ------------------------------------------------


def multipart_upload(disposition: str, extra_header: str = "") -> tuple[bytes, str]:
    boundary = "hostileboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="src"; {disposition}\r\n'
        f"{extra_header}Content-Type: application/octet-stream\r\n\r\npayload\r\n--{boundary}--\r\n"
    ).encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def upload_raw(client: SignedClient, sid: str, body: bytes, content_type: str) -> Reply:
    path = f"/session/{sid}/upload"
    headers = client.sign("POST", path, "multipart/form-data")
    return await client.request(
        "POST", path, data=body, sign=False, headers={**headers, "Content-Type": content_type}
    )


@pytest.mark.parametrize(
    ("disposition", "extra_header"),
    [
        ('filename="a\x00b.txt"', ""),  # raw NUL in the header: aiohttp's parser refuses it
        ('filename="a\x01b.txt"', ""),
        ('filename="a\x1bb.txt"', ""),
        ('filename="a%01b.txt"', ""),  # decoded by us: a control character in the name
        ("filename*=utf-8''a%0Ab.txt", ""),
        ('filename="ok.txt"', "X-Note: a\x01b\r\n"),  # a control character in another header
    ],
)
async def test_control_characters_in_upload_parts_are_400(
    client: SignedClient, local_server: RunningServer, disposition: str, extra_header: str
) -> None:
    await client.create("sess-upload-ctl")
    work = next(local_server.app[CONTEXT].registry.live(client.access_key)).work_dir
    body, content_type = multipart_upload(disposition, extra_header)
    reply = await upload_raw(client, "sess-upload-ctl", body, content_type)
    assert reply.status == 400, reply.body
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert reply.json()["msg"], reply.body
    assert uploaded_names(work) == []


def uploaded_names(work: Path) -> list[str]:
    """What an upload of `a?b.txt`, `ok.txt` or `a.txt` left in the work dir (the kernel
    writes files of its own there meanwhile)."""
    names = (p.name for p in work.rglob("*"))
    return [n for n in names if n.endswith(("b.txt", "ok.txt", "a.txt")) or ".bai-upload-" in n]


@pytest.mark.parametrize(
    ("path", "raw"),
    [
        ("/session/nobody", b'{"mode": "query", "code": "x = \'\\ud800\'", "runId": null}'),
        ("/session/nobody", b'{"mode": "query", "code": "\\udfff tail", "runId": null}'),
        ("/session/nobody/complete", b'{"code": "\\ud83d", "options": {"row": 0, "col": 1}}'),
        ("/session/nobody/complete", b'{"code": "x", "options": {"\\udc80": 1}}'),
    ],
)
async def test_lone_surrogates_over_http_are_400(
    client: SignedClient, path: str, raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    headers = client.sign("POST", path, "application/json")
    reply = await client.request(
        "POST", path, data=raw, sign=False, headers={**headers, "Content-Type": "application/json"}
    )
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params"), reply.body
    assert "surrogate" in reply.json()["msg"]
    assert_one_quiet_line(caplog, "surrogate")


async def test_lone_surrogate_over_the_execute_websocket(
    client: SignedClient, caplog: pytest.LogCaptureFixture
) -> None:
    await client.create("sess-surrogate-ws")
    path = "/stream/session/sess-surrogate-ws/execute"
    async with client.session.ws_connect(
        client.endpoint + path, headers=client.ws_headers(path)
    ) as ws:
        await ws.send_str('{"mode": "query", "code": "print(\'\\ud800\')"}')
        frame = await ws.receive_json(timeout=30)
    assert frame["status"] == "error"
    assert "surrogate" in frame["msg"]
    assert "code" in frame["msg"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # The kernel is fine: the next run works.
    assert (await client.run("sess-surrogate-ws", "print(6 * 7)"))["result"]["status"] == "finished"


# --- clients that hold a connection without sending ---------------------------------------

SHORT = 1.0  # the configured timeouts of `impatient_server`
CUT_WITHIN = 20.0  # far above SHORT (a loaded machine), far below "never"


@pytest.fixture
async def impatient_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    config = random_config(tmp_path / "data", header_timeout=SHORT, body_timeout=SHORT)
    server = await start_server(config)
    try:
        yield server
    finally:
        await server.close()


async def open_raw(server: RunningServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    port = int(server.endpoint.rsplit(":", 1)[1])
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection (bounded wait)."""
    return await asyncio.wait_for(reader.read(), CUT_WITHIN)


async def trickle(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    """Send `data` a byte at a time (the slow client of the test, not a synchronisation)."""
    for byte in data:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(interval)


@pytest.mark.parametrize("head", [b"GET /", b"POST /session HTTP/1.1\r\nHost: x\r\nX-Slow: "])
async def test_a_head_that_never_completes_is_cut(
    impatient_server: RunningServer, head: bytes
) -> None:
    reader, writer = await open_raw(impatient_server)
    sender = asyncio.create_task(trickle(writer, head + b"a" * 10_000, SHORT / 4))
    try:
        assert await closed_by_server(reader) == b""
    finally:
        sender.cancel()
        writer.close()


def signed_head(server: RunningServer, path: str, content_length: int) -> bytes:
    client = SignedClient(server.endpoint, server.access_key, server.secret_key, None)  # type: ignore[arg-type]
    headers = client.sign("POST", path, "application/json")
    lines = [f"POST {path} HTTP/1.1", "Host: " + server.endpoint.split("://", 1)[1]]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines += ["Content-Type: application/json", f"Content-Length: {content_length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize("trickled", [False, True])
async def test_a_body_that_never_completes_is_cut(
    impatient_server: RunningServer, caplog: pytest.LogCaptureFixture, trickled: bool
) -> None:
    caplog.set_level(logging.INFO)
    reader, writer = await open_raw(impatient_server)
    writer.write(signed_head(impatient_server, "/session/nobody", 100_000))
    body = b'{"mode": "query", "code": "' + b" " * 99_000
    sender = asyncio.create_task(trickle(writer, body, SHORT / 4 if trickled else 3600))
    try:
        await closed_by_server(reader)
    finally:
        sender.cancel()
        writer.close()
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    cut = [r for r in caplog.records if "did not arrive" in r.getMessage()]
    assert len(cut) == 1, [r.getMessage() for r in caplog.records]


async def test_an_announced_body_over_the_limit_is_413_at_once(
    impatient_server: RunningServer,
) -> None:
    reader, writer = await open_raw(impatient_server)
    writer.write(signed_head(impatient_server, "/session/nobody", 10 << 30))  # 10 GiB
    try:
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), CUT_WITHIN)
        assert answer.startswith(b"HTTP/1.1 413 ")
        rest = await closed_by_server(reader)
    finally:
        writer.close()
    problem = json.loads(rest[rest.index(b"{") :])
    limit = impatient_server.app._client_max_size
    assert problem["data"] == {"limit": limit, "size": 10 << 30}
    assert f"{limit:,} bytes" in problem["msg"]


# --- clients that vanish --------------------------------------------------------------------


class FirstRecord(logging.Handler):
    """Signals the first record a server module logs about a request (any level)."""

    def __init__(self, needle: str) -> None:
        super().__init__(logging.INFO)
        self.needle = needle
        self.seen = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    def emit(self, record: logging.LogRecord) -> None:
        if self.needle in record.getMessage() or record.levelno >= logging.WARNING:
            self.loop.call_soon_threadsafe(self.seen.set)


async def head_for(client: SignedClient, method: str, path: str, content_type: str) -> bytes:
    host = client.endpoint.split("://", 1)[1]
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Type: {content_type}"]
    signed = client.sign(method, path, content_type.split(";")[0])
    lines += [f"{k}: {v}" for k, v in signed.items()]
    return ("\r\n".join(lines) + "\r\n").encode()


async def vanish_and_wait(
    local_server: RunningServer, request: bytes, needle: str, *, after: bytes = b""
) -> None:
    """Send `request` (its head, then, once `after` is in the answer, the rest), drop the
    connection, and wait for the server to log about it."""
    watcher = FirstRecord(needle)
    logging.getLogger().addHandler(watcher)
    try:
        reader, writer = await open_raw(local_server)
        head, _, rest = request.partition(b"\r\n\r\n")
        writer.write(head + b"\r\n\r\n")
        await writer.drain()
        if after:
            await asyncio.wait_for(reader.readuntil(after), CUT_WITHIN)
        writer.write(rest)
        await writer.drain()
        writer.close()
        await asyncio.wait_for(watcher.seen.wait(), CUT_WITHIN)
    finally:
        logging.getLogger().removeHandler(watcher)


def assert_one_quiet_line(caplog: pytest.LogCaptureFixture, needle: str) -> None:
    records = [r for r in caplog.records if r.name.startswith(("bai_bridge", "aiohttp"))]
    assert not [r for r in records if r.levelno >= logging.WARNING], records
    lines = [r for r in records if needle in r.getMessage()]
    assert len(lines) == 1, [r.getMessage() for r in records]
    assert lines[0].levelno == logging.INFO
    assert lines[0].exc_info is None


async def test_a_client_vanishing_from_an_event_stream_is_one_info_line(
    client: SignedClient, local_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    path = "/events/session?sessionName=*"
    head = await head_for(client, "GET", path, "application/octet-stream")
    await vanish_and_wait(local_server, head + b"\r\n", "went away", after=b"\r\n\r\n")
    assert_one_quiet_line(caplog, "went away")


async def test_a_client_vanishing_mid_upload_is_one_info_line(
    client: SignedClient, local_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    await client.create("sess-vanish-upload")
    work = next(local_server.app[CONTEXT].registry.live(client.access_key)).work_dir
    caplog.set_level(logging.INFO)
    path = "/session/sess-vanish-upload/upload"
    head = await head_for(client, "POST", path, "multipart/form-data; boundary=B")
    head += b"Content-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"
    part = b'--B\r\nContent-Disposition: form-data; name="src"; filename="a.txt"\r\n\r\n'
    continued = b"100 Continue\r\n\r\n"  # the handler is about to read the body
    await vanish_and_wait(local_server, head + part + b"x" * 300_000, "went away", after=continued)
    assert_one_quiet_line(caplog, "went away")
    assert uploaded_names(work) == []  # no temporary file left
