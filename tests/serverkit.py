"""Helpers of the shared fixtures: the embedded session server (in-process or as a
`bai-bridge local-server` subprocess) on 127.0.0.1 with a random keypair and a temporary
data dir, and a small signing HTTP client that speaks to it as the official client does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest

from bai_bridge.api.auth import authorization_header, generate_signature
from bai_bridge.local.config import LocalConfig

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_VERSION = "v8.20240915"


@attrs.frozen
class Peer:
    """An official client release in its own virtual environment, with its scripts."""

    venv: str
    scripts: str
    missing: str  # why the tests skip when the environment does not exist

    @property
    def python(self) -> Path:
        return ROOT / self.venv / "bin" / "python"


# backend.ai-client 23.9.10 (API v7; pins aiohttp 3.8).
PEER_23 = Peer(".venv-peer", "peer", ".venv-peer is missing (scripts/setup creates it)")
# backend.ai-client 26.9.6 (API v9); it needs Python 3.13.
PEER_26 = Peer(
    ".venv-peer26",
    "peer26",
    ".venv-peer26 is missing: backend.ai-client 26.x needs Python 3.13, and scripts/setup"
    " creates the environment only where python3.13 exists",
)


def random_config(data_dir: Path, **overrides: Any) -> LocalConfig:
    """A config on 127.0.0.1, port 0, with a fresh keypair."""
    return LocalConfig(
        data_dir=data_dir,
        access_key="AKTEST" + secrets.token_hex(7).upper(),
        secret_key=secrets.token_urlsafe(30),
        port=0,
        **overrides,
    )


@attrs.define
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def problem_type(self) -> str:
        return str(self.json().get("type", "")).rsplit("/", 1)[-1]


@attrs.define
class SignedClient:
    """Signs every request with the server's keypair; overrides let tests break one part."""

    endpoint: str
    access_key: str
    secret_key: str
    session: aiohttp.ClientSession
    version: str = DEFAULT_VERSION

    def sign(
        self,
        method: str,
        path: str,
        content_type: str,
        *,
        version: str | None = None,
        date: datetime | None = None,
        secret_key: str | None = None,
    ) -> dict[str, str]:
        version = version or self.version
        when = date or datetime.now(UTC)
        date_text = when.isoformat()
        host = self.endpoint.split("://", 1)[1].split("/", 1)[0]
        signature = generate_signature(
            method=method,
            path=path,
            date_header=date_text,
            sign_date=when.date(),
            host=host,
            content_type=content_type,
            version=version,
            secret_key=secret_key or self.secret_key,
        )
        return {
            "Date": date_text,
            "X-BackendAI-Version": version,
            "Authorization": authorization_header(self.access_key, signature),
        }

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | None = None,
        version: str | None = None,
        headers: Mapping[str, str] | None = None,
        sign: bool = True,
    ) -> Reply:
        content_type = "application/json" if json_body is not None else "text/plain"
        body = json.dumps(json_body).encode() if json_body is not None else data
        all_headers = {"Content-Type": content_type}
        if sign:
            all_headers.update(self.sign(method, path, content_type, version=version))
        all_headers.update(headers or {})
        all_headers = {k: v for k, v in all_headers.items() if v is not None}
        async with self.session.request(
            method, self.endpoint + path, data=body, headers=all_headers
        ) as resp:
            return Reply(resp.status, dict(resp.headers), await resp.read())

    def ws_headers(self, path: str, version: str | None = None) -> dict[str, str]:
        return self.sign("GET", path, "application/octet-stream", version=version)

    async def create(self, name: str, image: str = "python:3.11-ubuntu20.04", **extra: Any) -> Any:
        reply = await self.request(
            "POST", "/session", json_body={"name": name, "image": image, **extra}
        )
        assert reply.status in (200, 201), reply.body
        return reply.json()

    async def run(
        self, sid: str, code: str, *, mode: str = "query", **extra: Any
    ) -> dict[str, Any]:
        """Drive the run loop to the end; returns the merged console and last result."""
        console: list[list[Any]] = []
        statuses: list[str] = []
        run_id = None
        body: dict[str, Any] = {"mode": mode, "code": code, "runId": None, **extra}
        while True:
            reply = await self.request("POST", f"/session/{sid}", json_body=body)
            assert reply.status == 200, reply.body
            result = reply.json()["result"]
            run_id = result["runId"]
            console.extend(result["console"])
            statuses.append(result["status"])
            if result["status"] == "finished":
                return {"console": console, "statuses": statuses, "result": result}
            body = {"mode": "continue", "code": "", "runId": run_id}


async def read_events(response: aiohttp.ClientResponse, until: str) -> list[dict[str, Any]]:
    """Parse SSE frames until an event named ``until`` arrives."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async for raw in response.content:
        line = raw.decode().rstrip("\r\n")
        if not line:
            if current:
                events.append(current)
                if current.get("event") == until:
                    return events
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(": ")
            current[field] = json.loads(value) if field == "data" else value
    return events


async def open_stream(
    client: SignedClient, path: str, version: str | None = None
) -> aiohttp.ClientResponse:
    headers = client.sign("GET", path, "application/octet-stream", version=version)
    response = await client.session.get(client.endpoint + path, headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return response


def text_of(console: list[list[Any]], kind: str = "stdout") -> str:
    return "".join(item[1] for item in console if item[0] == kind)


@attrs.define
class StandaloneServer:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen[str]
    data_dir: Path


@contextlib.contextmanager
def standalone_server(
    tmp_path: Path,
    profile: str = "embedded",
    prefix: Sequence[str] = (),
    *,
    port: int = 0,
    keys: tuple[str, str] | None = None,
) -> Iterator[StandaloneServer]:
    """`bai-bridge local-server` as a subprocess on a free port, stopped with SIGTERM;
    `prefix`: a command it runs under (e.g. `setpriv ...`); `port` and `keys` (access,
    secret) to start it again where a killed one was."""
    access = keys[0] if keys else "AKSTANDALONE" + secrets.token_hex(4).upper()
    secret = keys[1] if keys else secrets.token_urlsafe(30)
    env = {**os.environ, "BACKEND_ACCESS_KEY": access, "BACKEND_SECRET_KEY": secret}
    data_dir = tmp_path / "data"
    process = subprocess.Popen(
        [
            *prefix,
            sys.executable,
            "-m",
            "bai_bridge",
            "local-server",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--profile",
            profile,
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"(http://\S+)", first)
        assert match, f"unexpected start-up line {first!r}"
        yield StandaloneServer(match.group(1), access, secret, process, data_dir)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def peer_env(endpoint: str, access_key: str, secret_key: str) -> dict[str, str]:
    return {
        **os.environ,
        "BACKEND_ENDPOINT": endpoint,
        "BACKEND_ACCESS_KEY": access_key,
        "BACKEND_SECRET_KEY": secret_key,
    }


async def run_peer(
    script: str,
    endpoint: str,
    access_key: str,
    secret_key: str,
    *args: str,
    limit: float = 240,
    peer: Peer = PEER_23,
) -> Any:
    """Run a script of ``peer`` (tests/peer by default) with that official client release;
    returns its JSON output."""
    if not peer.python.exists():
        pytest.skip(peer.missing)
    process = await asyncio.create_subprocess_exec(
        str(peer.python),
        str(ROOT / "tests" / peer.scripts / script),
        *args,
        env=peer_env(endpoint, access_key, secret_key),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), limit)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, f"peer script failed:\n{err.decode()[-4000:]}"
    return json.loads(out)
