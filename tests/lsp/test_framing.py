"""No input ends the language server or goes unanswered: framing errors are skipped, invalid
requests get an LSP error, and so does any request after `shutdown`.

A raw stdio client: pytest-lsp's own client cannot write a broken frame.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from .lsp_harness import server_config

INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
PARSE_ERROR = -32700


class RawClient:
    """Frames written byte for byte; responses read in order, notifications left aside."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        assert process.stdin is not None
        assert process.stdout is not None
        self.stdin = process.stdin
        self.stdout = process.stdout
        self.next_id = 0

    async def write(self, data: bytes) -> None:
        self.stdin.write(data)
        await self.stdin.drain()

    async def send(self, message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        await self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def request(self, method: str, params: Any = None) -> dict[str, Any]:
        self.next_id += 1
        await self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return await self.response(self.next_id)

    async def response(self, msg_id: int | None) -> dict[str, Any]:
        """The response to ``msg_id``; requests from the server are answered null."""
        async with asyncio.timeout(60):
            while True:
                message = await self.read()
                if "method" not in message and message.get("id") == msg_id:
                    return message
                if "method" in message and "id" in message:
                    await self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})

    async def read(self) -> dict[str, Any]:
        length = 0
        while (line := await self.stdout.readline()) != b"\r\n":
            assert line, "the language server closed its output"
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        message: dict[str, Any] = json.loads(await self.stdout.readexactly(length))
        return message

    async def initialize(self) -> None:
        reply = await self.request("initialize", {"processId": None, "capabilities": {}})
        assert "capabilities" in reply["result"], reply


@pytest.fixture
async def raw(profile: str) -> AsyncIterator[RawClient]:
    config = server_config(profile)
    process = await asyncio.create_subprocess_exec(
        *config.server_command,
        env=config.server_env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=sys.stderr,
        limit=1 << 26,
    )
    client = RawClient(process)
    try:
        yield client
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def assert_alive(raw: RawClient) -> None:
    """The server still reads and answers: initialize gets its result."""
    await raw.initialize()
    assert raw.process.returncode is None


async def test_a_header_line_over_16_mib_is_skipped(raw: RawClient) -> None:
    await raw.write(b"X-Junk: " + b"x" * (17 << 20) + b"\r\n")
    await assert_alive(raw)


async def test_a_content_length_line_over_16_mib_loses_only_its_own_message(
    raw: RawClient,
) -> None:
    body = b'{"jsonrpc": "2.0", "method": "bai/nothing"}'
    await raw.write(b"Content-Length: " + b"0" * (17 << 20) + b"%d\r\n\r\n" % len(body) + body)
    await assert_alive(raw)


async def test_frames_without_a_valid_length_are_skipped(raw: RawClient) -> None:
    await raw.write(b"Content-Type: text/plain\r\n\r\n")
    await raw.write(b"Content-Length: -5\r\n\r\n")
    await raw.write(b"Content-Length: 99999999999999999999999\r\n\r\n")
    await assert_alive(raw)


async def test_a_body_that_is_not_json_gets_a_parse_error(raw: RawClient) -> None:
    await raw.write(b"Content-Length: 9\r\n\r\n{not json")
    reply = await raw.response(None)
    assert reply["error"]["code"] == PARSE_ERROR
    assert "id" in reply  # null, as JSON-RPC requires
    await raw.send({"jsonrpc": "2.0", "id": 7, "no": "method"})  # an unreadable response
    await raw.send({"id": 8, "method": "initialize"})  # no jsonrpc member
    assert (await raw.response(8))["error"]["code"] == INVALID_REQUEST
    await assert_alive(raw)


@pytest.mark.parametrize("line", [-1, 2**31])
async def test_a_position_out_of_range_gets_invalid_params(raw: RawClient, line: int) -> None:
    await raw.initialize()
    params = {
        "textDocument": {"uri": "file:///nowhere.py"},
        "position": {"line": line, "character": 0},
    }
    reply = await raw.request("textDocument/completion", params)
    assert reply["error"]["code"] == INVALID_PARAMS
    assert "line" in reply["error"]["message"]


async def test_every_request_after_shutdown_gets_invalid_request(raw: RawClient) -> None:
    await raw.initialize()
    await raw.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
    assert "error" not in await raw.request("shutdown")
    again = await raw.request("shutdown")
    assert again["error"]["code"] == INVALID_REQUEST
    other = await raw.request("workspace/executeCommand", {"command": "bai-bridge.sessionInfo"})
    assert other["error"]["code"] == INVALID_REQUEST
    await raw.send({"jsonrpc": "2.0", "method": "exit"})
    async with asyncio.timeout(30):
        assert await raw.process.wait() == 0


async def test_stdin_that_is_a_file_is_read_with_the_same_care(
    tmp_path: Path, profile: str
) -> None:
    """stdin redirected from a file (not a pipe) is read in threads: the same rules hold."""

    def frame(message: dict[str, Any]) -> bytes:
        body = json.dumps(message).encode()
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    initialize = {"processId": None, "capabilities": {}}
    script = tmp_path / "stdin.bin"
    script.write_bytes(
        b"X-Junk: " + b"x" * (17 << 20) + b"\r\n"
        + frame({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize})
        + b"Content-Length: 5\r\n\r\n{bad}"
        + frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
        + frame({"jsonrpc": "2.0", "id": 3, "method": "shutdown"})
        + frame({"jsonrpc": "2.0", "method": "exit"})
    )  # fmt: skip
    config = server_config(profile)
    with script.open("rb") as stdin:
        process = await asyncio.create_subprocess_exec(
            *config.server_command,
            env=config.server_env,
            stdin=stdin,
            stdout=asyncio.subprocess.PIPE,
            stderr=sys.stderr,
        )
        async with asyncio.timeout(60):
            out, _ = await process.communicate()
    replies = [
        json.loads(part.split(b"\r\n\r\n", 1)[1]) for part in out.split(b"Content-Length")[1:]
    ]
    by_id = {r.get("id"): r for r in replies if "method" not in r}
    assert "capabilities" in by_id[1]["result"]
    assert by_id[None]["error"]["code"] == PARSE_ERROR
    assert "error" not in by_id[2]
    assert by_id[3]["error"]["code"] == INVALID_REQUEST
    assert process.returncode == 0
