"""Files changed on disk outside the editor, and multi-root workspaces, end to end over stdio.

The client declares dynamic registration of didChangeWatchedFiles; the test writes and deletes
files itself (not through the editor) and sends the events a watching editor would send.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
from pathlib import Path

import attrs
import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import (
    Recorder,
    capabilities,
    command,
    field,
    open_doc,
    run_selection,
    uri_of,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
CAP = 64 * 1024


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    root = tmp_path_factory.mktemp(f"watched-{profile}")
    (root / "main.py").write_text("print('main')\n")
    (root / ".gitignore").write_text("generated/\n")
    return root


@pytest.fixture(scope="module")
def other_folder(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    other = tmp_path_factory.mktemp(f"second-folder-{profile}")
    (other / "lib.py").write_text("Y = 2\n")
    return other


class Watching(Recorder):
    """The recorder plus the registrations the server asked for."""

    def __init__(self, client: LanguageClient) -> None:
        super().__init__(client)
        self.registrations: list[types.Registration] = []
        self.unregistrations: list[types.Unregistration] = []

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def on_register(_: LanguageClient, params: types.RegistrationParams) -> None:
            self.registrations += params.registrations
            self.poke()

        @client.feature(types.CLIENT_UNREGISTER_CAPABILITY)
        def on_unregister(_: LanguageClient, params: types.UnregistrationParams) -> None:
            self.unregistrations += params.unregisterations


def watching_capabilities() -> types.ClientCapabilities:
    base = capabilities()
    assert base.workspace is not None
    watched = types.DidChangeWatchedFilesClientCapabilities(
        dynamic_registration=True, relative_pattern_support=True
    )
    workspace = attrs.evolve(
        base.workspace, did_change_watched_files=watched, workspace_folders=True
    )
    return attrs.evolve(base, workspace=workspace)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bridge(client: LanguageClient, workspace: Path, other_folder: Path) -> Watching:
    recorder = Watching(client)
    folders = [
        types.WorkspaceFolder(uri=uri_of(workspace), name=workspace.name),
        types.WorkspaceFolder(uri=uri_of(other_folder), name=other_folder.name),
    ]
    await client.initialize_session(
        types.InitializeParams(
            capabilities=watching_capabilities(),
            root_uri=uri_of(workspace),
            workspace_folders=folders,
            initialization_options={"baiBridge": {"maxFileSize": CAP}},
        )
    )
    await recorder.wait_for("the session", lambda: recorder.state() == "running")
    await command(client, protocol.SYNC_WORKSPACE)
    return recorder


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def remote_shas(
    client: LanguageClient, bridge: Recorder, workspace: Path, *rels: str
) -> dict[str, str]:
    """The sha256 of each path in the session ('missing' if absent), computed there."""
    code = (
        "import hashlib, os\n"
        f"for p in {list(rels)!r}:\n"
        "    print('SHA', p, hashlib.sha256(open(p, 'rb').read()).hexdigest() "
        "if os.path.isfile(p) else 'missing')\n"
    )
    uri = open_doc(client, workspace / ".probe" / "probe.py", code)
    where = {"start": {"line": 0, "character": 0}, "end": {"line": 3, "character": 0}}
    done = await command(client, protocol.RUN_SELECTION, {"uri": uri, "range": where})
    lines = bridge.text(field(done, "runId")).splitlines()
    return {p: h for _, p, h in (line.split() for line in lines if line.startswith("SHA "))}


async def wait_in_session(
    client: LanguageClient, bridge: Recorder, workspace: Path, want: dict[str, str]
) -> None:
    """Poll the session (each poll is a real run) until every path has the wanted hash."""
    seen: dict[str, str] = {}
    for _ in range(60):
        seen = await remote_shas(client, bridge, workspace, *want)
        if seen == want:
            return
    raise AssertionError(f"the session has {seen}, not {want}")


def notify(client: LanguageClient, *changes: tuple[Path, types.FileChangeType]) -> None:
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=uri_of(p), type=kind) for p, kind in changes]
        )
    )


async def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, data)


async def test_every_synced_folder_is_watched(
    bridge: Watching, workspace: Path, other_folder: Path
) -> None:
    await bridge.wait_for("the registration", lambda: bridge.registrations)
    (registration,) = bridge.registrations
    assert registration.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES
    watchers = [
        {"globPattern": {"baseUri": uri_of(folder), "pattern": "**/*"}}
        for folder in (workspace, other_folder)
    ]
    assert registration.register_options == {"watchers": watchers}


async def test_files_written_on_disk_reach_the_session_but_excluded_ones_do_not(
    client: LanguageClient, bridge: Watching, workspace: Path
) -> None:
    made = bytes(range(256)) * 40  # written by a "generator", not the editor
    ignored = b"1,2,3\n"
    await write(workspace / "gen" / "table.bin", made)
    await write(workspace / "generated" / "cache.csv", ignored)  # .gitignore
    await write(workspace / "__pycache__" / "m.pyc", b"\0")  # default excludes
    await write(workspace / "too_big.bin", b"x" * (CAP + 1))  # the size cap
    await write(workspace / "main.py", b"print('after git checkout')\n")
    created, changed = types.FileChangeType.Created, types.FileChangeType.Changed
    notify(
        client,
        (workspace / "gen" / "table.bin", created),
        (workspace / "generated" / "cache.csv", created),
        (workspace / "__pycache__" / "m.pyc", created),
        (workspace / "too_big.bin", created),
        (workspace / "main.py", changed),
    )
    after = {"gen/table.bin": sha(made), "main.py": sha(b"print('after git checkout')\n")}
    await wait_in_session(client, bridge, workspace, after)
    left_out = ("generated/cache.csv", "__pycache__/m.pyc", "too_big.bin")
    assert await remote_shas(client, bridge, workspace, *left_out) == dict.fromkeys(
        left_out, "missing"
    )
    assert len(too_large_warnings(client)) == 1

    await write(workspace / "too_big.bin", b"y" * (CAP + 2))  # regenerated: not told again
    await write(workspace / "gen" / "table.bin", b"regenerated")
    notify(client, (workspace / "too_big.bin", changed), (workspace / "gen" / "table.bin", changed))
    await wait_in_session(client, bridge, workspace, {"gen/table.bin": sha(b"regenerated")})
    assert len(too_large_warnings(client)) == 1


def too_large_warnings(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if "too_big.bin" in m.message]


async def test_a_delete_on_disk_is_mirrored_only_for_files_sync_put_there(
    client: LanguageClient, bridge: Watching, workspace: Path
) -> None:
    doomed = workspace / "scratch.py"
    folder = workspace / "moved_in"  # a folder moved in whole: one event for the folder
    await write(doomed, b"SCRATCH = 1\n")
    await write(folder / "a.py", b"A = 1\n")
    await write(folder / "deep" / "b.py", b"B = 2\n")
    await write(folder / "__pycache__" / "a.pyc", b"\0")  # excluded, in the same upload
    created = types.FileChangeType.Created
    notify(client, (doomed, created), (folder, created))
    synced = {
        "scratch.py": sha(b"SCRATCH = 1\n"),
        "moved_in/a.py": sha(b"A = 1\n"),
        "moved_in/deep/b.py": sha(b"B = 2\n"),
    }
    await wait_in_session(
        client, bridge, workspace, synced | {"moved_in/__pycache__/a.pyc": "missing"}
    )
    made_there = open_doc(
        client, workspace / ".probe" / "theirs.py", "open('theirs.txt', 'w').write('t')\n"
    )
    await run_selection(client, made_there, 0)

    await asyncio.to_thread(doomed.unlink)
    await asyncio.to_thread(shutil.rmtree, folder)
    deleted = types.FileChangeType.Deleted
    recreated = workspace / "main.py"  # deleted and written again (a formatter): stays
    notify(
        client,
        (doomed, deleted),
        (folder, deleted),
        (workspace / "theirs.txt", deleted),
        (recreated, deleted),
    )
    await wait_in_session(client, bridge, workspace, dict.fromkeys(synced, "missing"))
    assert await remote_shas(client, bridge, workspace, "theirs.txt", "main.py") == {
        "theirs.txt": sha(b"t"),
        "main.py": sha(recreated.read_bytes()),
    }


async def test_a_file_changed_in_the_session_is_not_overwritten_without_a_decision(
    client: LanguageClient, bridge: Watching, workspace: Path
) -> None:
    path = workspace / "shared.py"
    await write(path, b"V = 1\n")
    notify(client, (path, types.FileChangeType.Created))
    await wait_in_session(client, bridge, workspace, {"shared.py": sha(b"V = 1\n")})
    edit = open_doc(
        client, workspace / ".probe" / "edit.py", "open('shared.py', 'w').write('V = 99\\n')\n"
    )
    await run_selection(client, edit, 0)

    asked = len(bridge.message_requests)
    await write(path, b"V = 2  # formatted from the shell\n")
    notify(client, (path, types.FileChangeType.Changed))
    await bridge.wait_for("the question", lambda: len(bridge.message_requests) > asked)
    assert "shared.py" in bridge.message_requests[-1].message
    assert await remote_shas(client, bridge, workspace, "shared.py") == {
        "shared.py": sha(b"V = 99\n")
    }


def place_messages(client: LanguageClient) -> list[str]:
    return [m.message for m in client.messages if "workspace folders sync to" in m.message]


async def test_a_folder_added_later_is_watched_and_its_files_written_on_disk_synced(
    client: LanguageClient, bridge: Watching, workspace: Path, other_folder: Path
) -> None:
    (told,) = place_messages(client)
    assert f"{workspace.name} → /home/work," in told
    assert f"{other_folder.name} → /home/work/{other_folder.name}" in told

    third = workspace.parent / f"third-{workspace.name}"
    third.mkdir(exist_ok=True)
    added = types.WorkspaceFolder(uri=uri_of(third), name=third.name)
    for _ in range(2):  # the same folder added twice is one folder
        client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(added=[added], removed=[])
            )
        )
    await bridge.wait_for("the new watchers", lambda: len(bridge.registrations) >= 2)
    await command(client, protocol.SESSION_INFO)  # a round trip: the second event was handled
    watched = [
        w["globPattern"]["baseUri"] for w in bridge.registrations[-1].register_options["watchers"]
    ]
    assert watched == [uri_of(workspace), uri_of(other_folder), uri_of(third)]
    assert third.name in place_messages(client)[-1]
    assert [u.id for u in bridge.unregistrations] == [bridge.registrations[0].id]

    made = b"made by a generator\n"
    await write(third / "gen.txt", made)
    notify(client, (third / "gen.txt", types.FileChangeType.Created))
    await wait_in_session(client, bridge, workspace, {f"{third.name}/gen.txt": sha(made)})


async def test_a_download_asks_nothing_and_a_local_delete_leaves_the_sessions_file(
    client: LanguageClient, bridge: Watching, workspace: Path
) -> None:
    made = "open('result.txt', 'w').write('r\\n'); open('theirs2.txt', 'w').write('s\\n')\n"
    await run_selection(client, open_doc(client, workspace / ".probe" / "make.py", made), 0)
    fetched = await command(client, protocol.DOWNLOAD, {"paths": ["result.txt"]})
    assert field(fetched, "files") == ["result.txt"]
    # into the first folder, synced to the work dir
    assert (workspace / "result.txt").read_bytes() == b"r\n"

    asked = len(bridge.message_requests)
    clash = workspace / "theirs2.txt"  # a real conflict in the same batch, as a yardstick
    await write(clash, b"local\n")
    created = types.FileChangeType.Created
    notify(client, (workspace / "result.txt", created), (clash, created))
    await bridge.wait_for("the question", lambda: len(bridge.message_requests) > asked)
    (question,) = bridge.message_requests[asked:]
    assert "theirs2.txt" in question.message
    assert "result.txt" not in question.message

    marker = workspace / "marker.py"  # a synced file deleted in the same batch
    await write(marker, b"M = 1\n")
    notify(client, (marker, created))
    await wait_in_session(client, bridge, workspace, {"marker.py": sha(b"M = 1\n")})
    await asyncio.to_thread((workspace / "result.txt").unlink)
    await asyncio.to_thread(marker.unlink)
    deleted = types.FileChangeType.Deleted
    notify(client, (workspace / "result.txt", deleted), (marker, deleted))
    await wait_in_session(client, bridge, workspace, {"marker.py": "missing"})
    assert await remote_shas(client, bridge, workspace, "result.txt") == {"result.txt": sha(b"r\n")}
