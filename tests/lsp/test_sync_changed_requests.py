"""What a sync of one edited file costs, counted on the wire (the WAN emulator sees every
request): the content of the session's copy (its proof) is fetched once, the file is sent
only after that answer, and until the file's answer nothing else goes but one listing per
folder; no run is started to compare it."""

from __future__ import annotations

from pathlib import Path

from bai_bridge.lsp import protocol
from serverkit import StandaloneServer
from wanproxy import SeenRequest, WanProxy

from .lsp_harness import Recorder, command, field
from .test_run_place_requests import bridge_on

FOLDERS = ("", "pkg", "pkg/sub", "data")


def kind(request: SeenRequest) -> str:
    """``download``, ``upload``, ``files`` (a listing) or the request's method and path."""
    path = request.target.split("?", 1)[0]
    last = path.rsplit("/", 1)[-1]
    return last if last in ("download", "upload", "files") else f"{request.method} {path}"


async def recorded(recorder: Recorder, proxy: WanProxy, mark: int) -> None:
    """Until the record of a sync that began at request ``mark`` is in the session: the
    manifest, saved behind the sync (an upload after the last file's answer), answered."""
    seen = proxy.requests[mark:]
    files = [r for r in seen if kind(r) == "upload" and r.answered_at is not None]
    last = max(r.answered_at for r in files if r.answered_at is not None)
    await recorder.wait_for(
        "the sync's record",
        lambda: any(
            kind(r) == "upload" and r.at > last and r.answer_done_at is not None
            for r in proxy.requests[mark:]
        ),
    )


async def test_one_edited_file_is_proven_by_one_fetch_and_sent_after_its_answer(
    proxy: WanProxy, local_server_process: StandaloneServer, profile: str, tmp_path: Path
) -> None:
    root = tmp_path / f"ws-{profile}"
    for folder in FOLDERS:
        for i in range(3):
            path = root / folder / f"m{i}.py"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"# {folder} {i}\n")
    async with bridge_on(proxy, local_server_process, profile, [root]) as (client, recorder):
        mark = len(proxy.requests)
        first = await command(client, protocol.SYNC_WORKSPACE)
        assert len(field(first, "uploaded")) == 3 * len(FOLDERS)
        await recorded(recorder, proxy, mark)

        for trial in range(2):
            (root / "pkg/sub/m1.py").write_text(f"changed = {trial}\n")
            mark = len(proxy.requests)
            result = await command(client, protocol.SYNC_WORKSPACE)
            assert field(result, "uploaded") == ["pkg/sub/m1.py"]
            seen = proxy.requests[mark:]
            [fetch] = [r for r in seen if kind(r) == "download"]
            upload = next(r for r in seen if kind(r) == "upload")
            assert fetch.answered_at is not None
            assert upload.answered_at is not None
            assert upload.at > fetch.answered_at  # sent on the proof, never before it
            # up to the file's answer: the proof, the file, a listing of each folder
            before = [kind(r) for r in seen if r.at < upload.answered_at]
            assert sorted(before) == sorted(["download", "upload", *["files"] * len(FOLDERS)])
            await recorded(recorder, proxy, mark)
