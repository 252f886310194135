"""Upload, download and list_files through the real session routes: limits, confinement,
both download methods, and a check that nothing appears outside the work dir."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from bai_bridge.local.context import CONTEXT
from bai_bridge.local.serve import RunningServer
from serverkit import Reply, SignedClient

IMAGE = "python:3.11-ubuntu20.04"
MiB = 1 << 20


async def upload(client: SignedClient, sid: str, files: list[tuple[str, bytes]]) -> Reply:
    form = aiohttp.FormData()
    for name, content in files:
        form.add_field("src", content, filename=name, content_type="application/octet-stream")
    payload = form()
    headers = client.sign("POST", f"/session/{sid}/upload", "multipart/form-data")
    headers["Content-Type"] = payload.content_type
    async with client.session.post(
        client.endpoint + f"/session/{sid}/upload", data=payload, headers=headers
    ) as resp:
        return Reply(resp.status, dict(resp.headers), await resp.read())


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
async def session_dir(client: SignedClient, local_server: RunningServer) -> Path:
    created = await client.create("files-sess", IMAGE)
    return local_server.app[CONTEXT].config.data_dir / "sessions" / created["sessionId"]


async def test_upload_list_and_download(client: SignedClient, session_dir: Path) -> None:
    reply = await upload(client, "files-sess", [("a.txt", b"alpha"), ("deep/b.txt", b"beta")])
    assert reply.status == 204
    assert (session_dir / "work" / "deep" / "b.txt").read_bytes() == b"beta"
    listing = await client.request("GET", "/session/files-sess/files", json_body={"path": "deep"})
    assert [f["filename"] for f in json.loads(listing.json()["files"])] == ["b.txt"]
    for method, version in (("GET", "v7.20230615"), ("POST", "v8.20240915")):
        reply = await client.request(
            method,
            "/session/files-sess/download",
            json_body={"files": ["a.txt", "deep"]},
            version=version,
        )
        assert reply.status == 200, reply.body
        assert reply.headers["Content-Type"].startswith("multipart/mixed")
        # The body is multipart/mixed with one tar per requested path, in order.
        assert reply.body.count(b"Content-Type: application/octet-stream") == 2
    # The kernel sees the uploaded files in its working directory.
    run = await client.run("files-sess", "print(open('deep/b.txt').read())")
    assert run["console"] == [["stdout", "beta\n"]]


async def test_upload_limits_are_the_managers(client: SignedClient, session_dir: Path) -> None:
    before = tree(session_dir.parent.parent)
    too_many = [(f"f{i}.txt", b"x") for i in range(21)]
    reply = await upload(client, "files-sess", too_many)
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params")
    reply = await upload(client, "files-sess", [("big.bin", b"x" * MiB)])
    assert (reply.status, reply.problem_type) == (400, "invalid-api-params")
    assert tree(session_dir.parent.parent) == before  # nothing was written
    reply = await upload(client, "files-sess", [("fits.bin", b"x" * (MiB - 1))])
    assert reply.status == 204
    reply = await client.request(
        "POST", "/session/files-sess/download", json_body={"files": [f"x{i}" for i in range(6)]}
    )
    assert reply.status == 400


@pytest.mark.parametrize(
    "name", ["../escape.txt", "/etc/escape.txt", "a/../../escape.txt", "..\\escape.txt"]
)
async def test_hostile_upload_names_write_nothing_outside(
    client: SignedClient, session_dir: Path, name: str
) -> None:
    data_dir = session_dir.parent.parent
    before = tree(data_dir)
    reply = await upload(client, "files-sess", [(name, b"pwned")])
    assert 400 <= reply.status < 500
    assert reply.headers["Content-Type"].startswith("application/problem+json")
    assert tree(data_dir) == before


async def test_symlink_escapes_are_refused(
    client: SignedClient, session_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (session_dir / "work" / "link").symlink_to(outside, target_is_directory=True)
    reply = await upload(client, "files-sess", [("link/new.txt", b"x")])
    assert 400 <= reply.status < 500
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    reply = await client.request(
        "POST", "/session/files-sess/download", json_body={"files": ["link/secret.txt"]}
    )
    assert 400 <= reply.status < 500
    reply = await client.request("GET", "/session/files-sess/files", json_body={"path": "link"})
    assert 400 <= reply.status < 500
    reply = await client.request("GET", "/session/files-sess/files", json_body={"path": "../.."})
    assert 400 <= reply.status < 500


async def test_mounted_vfolders_take_files(
    client: SignedClient, local_server: RunningServer
) -> None:
    await client.create("files-mount", IMAGE, config={"mounts": ["shared"]})
    reply = await upload(client, "files-mount", [("shared/kept.txt", b"persistent")])
    assert reply.status == 204
    vfolder = local_server.app[CONTEXT].config.data_dir / "vfolders" / "shared"
    assert (vfolder / "kept.txt").read_bytes() == b"persistent"
    listing = await client.request(
        "GET", "/session/files-mount/files", json_body={"path": "shared"}
    )
    assert [f["filename"] for f in json.loads(listing.json()["files"])] == ["kept.txt"]
    reply = await client.request(
        "POST", "/session/files-mount/download", json_body={"files": ["shared/kept.txt"]}
    )
    assert reply.status == 200
    run = await client.run("files-mount", "print(open('shared/kept.txt').read())")
    assert run["console"] == [["stdout", "persistent\n"]]
