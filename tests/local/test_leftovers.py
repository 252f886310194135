"""A killed server's session folders and upload temporary files are removed at the next
start; vfolders, and what a server still running owns, are kept."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import aiohttp

from bai_bridge.local.leftovers import OWNER_FILE, UNMARKED_GRACE, remove_leftovers
from bai_bridge.local.serve import start_server
from serverkit import SignedClient, random_config, standalone_server


async def test_what_a_killed_server_left_is_removed_at_the_next_start(tmp_path: Path) -> None:
    with standalone_server(tmp_path) as killed:
        async with aiohttp.ClientSession() as session:
            client = SignedClient(killed.endpoint, killed.access_key, killed.secret_key, session)
            await client.create("sess-killed", config={"mounts": ["data"]})
            await client.run("sess-killed", "open('data/kept.txt', 'w').write('mine')")
        os.killpg(killed.process.pid, signal.SIGKILL)  # the server and its kernel
        killed.process.wait()
        data_dir, dead_pid = killed.data_dir, killed.process.pid
    (left,) = (data_dir / "sessions").iterdir()
    assert (left / "work").is_dir()
    vfolder = data_dir / "vfolders" / "data"
    # what an upload into the mounted folder was writing when the server was killed
    (vfolder / "sub").mkdir()
    (vfolder / "sub" / f".bai-upload-{dead_pid}-0123456789ab-0").write_bytes(b"half")
    (vfolder / ".bai-upload-0123456789ab-3").write_bytes(b"half, older naming")
    # a session folder and a temporary file of a server that still runs (pid 1 is alive)
    live = data_dir / "sessions" / "0000-live"
    live.mkdir()
    (live / OWNER_FILE).write_text("1")
    (vfolder / ".bai-upload-1-0123456789ab-0").write_bytes(b"in progress elsewhere")

    server = await start_server(random_config(data_dir))
    try:
        assert server.leftovers is not None
        removed = await server.leftovers
    finally:
        await server.close()

    assert (removed.sessions, removed.upload_files) == (1, 2)
    assert sorted(p.name for p in (data_dir / "sessions").iterdir()) == ["0000-live"]
    assert (vfolder / "kept.txt").read_text() == "mine"
    assert sorted(str(p.relative_to(vfolder)) for p in vfolder.rglob("*")) == [
        ".bai-upload-1-0123456789ab-0",
        "kept.txt",
        "sub",
    ]


def test_a_session_folder_still_without_its_owner_mark_is_kept_until_it_is_old(
    tmp_path: Path,
) -> None:
    """A server makes the folder, then writes its mark: a start in between must not take the
    fresh folder for a dead server's (seen removing a starting session's console log)."""
    sessions = tmp_path / "sessions"
    fresh, old = sessions / "fresh", sessions / "old"
    for folder in (fresh, old):
        (folder / "work").mkdir(parents=True)
    aged = time.time() - UNMARKED_GRACE - 60
    os.utime(old, (aged, aged))
    removed = remove_leftovers(tmp_path)
    assert removed.sessions == 1
    assert [p.name for p in sessions.iterdir()] == ["fresh"]
