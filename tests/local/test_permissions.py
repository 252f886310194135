"""EACCES in a session's folder is a 403 naming the path, never a 500 (a real server).

Root ignores file permissions: as root the server runs under `setpriv` without the two
capabilities that let it (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so mode bits count.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from serverkit import SignedClient, StandaloneServer, standalone_server


def _unprivileged_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[StandaloneServer]:
    with standalone_server(tmp_path, prefix=_unprivileged_prefix()) as running:
        yield running


@pytest.fixture
async def work(server: StandaloneServer) -> AsyncIterator[tuple[SignedClient, Path]]:
    """A client, and the work dir of its session `sess-perm` with unreadable parts."""
    async with aiohttp.ClientSession() as session:
        client = SignedClient(server.endpoint, server.access_key, server.secret_key, session)
        await client.create("sess-perm")
        (work_dir,) = server.data_dir.glob("sessions/*/work")
        (work_dir / "locked").mkdir()
        (work_dir / "locked" / "inner.txt").write_text("inner")
        (work_dir / "locked").chmod(0)
        (work_dir / "unreadable.txt").write_text("secret")
        (work_dir / "unreadable.txt").chmod(0)
        (work_dir / "readonly").mkdir(mode=0o500)
        try:
            yield client, work_dir
        finally:
            (work_dir / "locked").chmod(0o700)  # so that the session's folder can be removed


def assert_forbidden(status: int, body: dict[str, object], path: str) -> None:
    assert status == 403, body
    assert str(body["type"]).endswith("/generic-forbidden")
    assert body["data"] == {"path": path}
    assert repr(path) in str(body["msg"])
    assert "permission denied" in str(body["msg"])


@pytest.mark.parametrize("path", ["unreadable.txt", "locked", "locked/inner.txt"])
async def test_download_of_what_cannot_be_read_is_403(
    work: tuple[SignedClient, Path], path: str
) -> None:
    client, _ = work
    reply = await client.request("POST", "/session/sess-perm/download", json_body={"files": [path]})
    assert_forbidden(reply.status, reply.json(), path)


@pytest.mark.parametrize("path", ["readonly/a.txt", "readonly/new/a.txt", "locked/a.txt"])
async def test_upload_into_a_folder_that_cannot_be_written_is_403(
    work: tuple[SignedClient, Path], path: str
) -> None:
    client, work_dir = work
    before = sorted(os.listdir(work_dir / "readonly"))
    form = aiohttp.FormData()
    form.add_field("src", b"hello", filename=path, content_type="application/octet-stream")
    headers = client.sign("POST", "/session/sess-perm/upload", "multipart/form-data")
    url = client.endpoint + "/session/sess-perm/upload"
    async with client.session.post(url, data=form, headers=headers) as resp:
        assert_forbidden(resp.status, await resp.json(content_type=None), path)
    assert sorted(os.listdir(work_dir / "readonly")) == before


async def test_listing_a_folder_that_cannot_be_read_says_why(
    work: tuple[SignedClient, Path],
) -> None:
    # As the real agent does (protocol doc §3.11): a 200 whose `errors` names the path.
    client, _ = work
    reply = await client.request("GET", "/session/sess-perm/files", json_body={"path": "locked"})
    assert reply.status == 200
    assert reply.json()["files"] == "[]"
    assert "Permission denied" in reply.json()["errors"]
    assert "'locked'" in reply.json()["errors"]
