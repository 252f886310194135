"""A multi-root workspace end to end: the first folder syncs to the session's work dir as a
one-folder workspace does, the second to a folder of its own named after it; saves,
conflicts and their answers, manifests, Run File (in the session and as a job) and the
working directory of cells and selections each go by the folder of their file; a folder
added or removed while the server runs starts or stops its sync."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import LanguageClient

from bai_bridge.lsp import protocol

from .lsp_harness import (
    Recorder,
    command,
    field,
    folder_with,
    in_session,
    initialize,
    open_doc,
    run_cell,
    run_selection,
    uri_of,
    workspace_folder,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

SHOW = "import json, os\nprint('SEEN=' + json.dumps({'cwd': os.getcwd(), 'file': __file__}))\n"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    return folder_with(tmp_path_factory, f"first-{profile}", {"main.py": "print('main')\n"})


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory, profile: str) -> Path:
    files = {"lib.py": "Y = 2\n", "data.txt": "local 1\n", "pkg/where.py": SHOW}
    return folder_with(tmp_path_factory, f"second-{profile}", files)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def bridge(client: LanguageClient, workspace: Path, second: Path) -> Recorder:
    return await initialize(client, workspace, folders=[second])


async def contents(
    client: LanguageClient, bridge: Recorder, workspace: Path, *paths: str
) -> dict[str, str | None]:
    code = (
        "import json, os; print(json.dumps({p: open(p).read() if os.path.isfile(p) else None "
        f"for p in {list(paths)!r}}}))"
    )
    found: dict[str, str | None] = await in_session(client, bridge, workspace, code)
    return found


async def manifest_paths(
    client: LanguageClient, bridge: Recorder, workspace: Path, place: str
) -> list[str]:
    path = f"{place}/.bai-bridge/manifest.json" if place else ".bai-bridge/manifest.json"
    code = f"import json; print(json.dumps(sorted(json.load(open({path!r}))['entries'])))"
    found: list[str] = await in_session(client, bridge, workspace, code)
    return found


async def wait_for_contents(
    client: LanguageClient, bridge: Recorder, workspace: Path, want: dict[str, str | None]
) -> None:
    """Poll the session (each poll is a real run) until every path holds what is wanted."""
    seen: dict[str, str | None] = {}
    for _ in range(60):
        seen = await contents(client, bridge, workspace, *want)
        if seen == want:
            return
    raise AssertionError(f"the session has {seen}, not {want}")


def save(client: LanguageClient, path: Path, text: str) -> None:
    path.write_text(text)
    client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri_of(path)))
    )


async def test_each_folder_reaches_its_place_with_its_own_manifest(
    client: LanguageClient, bridge: Recorder, workspace: Path, second: Path
) -> None:
    result = await command(client, protocol.SYNC_WORKSPACE)
    assert set(field(result, "conflicts")) == set()
    b = second.name
    await wait_for_contents(client, bridge, workspace, {
        "main.py": "print('main')\n", f"{b}/lib.py": "Y = 2\n", f"{b}/data.txt": "local 1\n",
        "lib.py": None,  # the second folder's files are not in the work dir itself
    })  # fmt: skip
    assert await manifest_paths(client, bridge, workspace, "") == ["main.py"]
    assert await manifest_paths(client, bridge, workspace, b) == [
        "data.txt", "lib.py", "pkg/where.py"
    ]  # fmt: skip
    told = [m.message for m in client.messages if "workspace folders sync to" in m.message]
    assert told == [
        f"bai-bridge: workspace folders sync to the session: {workspace.name} → /home/work, "
        f"{b} → /home/work/{b}."
    ]


async def test_a_save_in_the_second_folder_goes_to_its_place(
    client: LanguageClient, bridge: Recorder, workspace: Path, second: Path
) -> None:
    save(client, second / "lib.py", "Y = 3\n")
    await wait_for_contents(client, bridge, workspace, {f"{second.name}/lib.py": "Y = 3\n"})
    assert (await contents(client, bridge, workspace, "lib.py")) == {"lib.py": None}


async def test_a_conflict_in_the_second_folder_is_asked_and_answered_there(
    client: LanguageClient, bridge: Recorder, workspace: Path, second: Path
) -> None:
    theirs = f"{second.name}/data.txt"
    await in_session(client, bridge, workspace, f"print(open({theirs!r}, 'w').write('theirs\\n'))")
    asked = len(bridge.message_requests)
    save(client, second / "data.txt", "local 2\n")
    await bridge.wait_for("the question", lambda: len(bridge.message_requests) > asked)
    assert f"{second.name}/data.txt" in bridge.message_requests[asked].message
    assert await contents(client, bridge, workspace, theirs) == {theirs: "theirs\n"}

    result = await command(client, protocol.SYNC_WORKSPACE)
    assert field(result, "conflicts") == [theirs]  # named as the session has it
    done = await command(client, protocol.RESOLVE_CONFLICT, {"path": theirs, "action": "overwrite"})
    assert done is True
    assert await contents(client, bridge, workspace, theirs) == {theirs: "local 2\n"}


async def seen(client: LanguageClient, bridge: Recorder, path: Path, as_job: bool) -> Any:
    name = protocol.RUN_FILE_AS_JOB if as_job else protocol.RUN_FILE
    result = await command(client, name, {"uri": uri_of(path)})
    assert field(result, "status") == "finished", bridge.text(field(result, "runId"), "stderr")
    (line,) = [x for x in bridge.text(field(result, "runId")).splitlines() if x.startswith("SEEN=")]
    return json.loads(line[len("SEEN=") :])


async def test_run_file_runs_in_the_place_of_its_folder(
    client: LanguageClient, bridge: Recorder, second: Path
) -> None:
    b = second.name
    in_namespace = await seen(client, bridge, second / "pkg" / "where.py", as_job=False)
    assert in_namespace["cwd"].endswith(f"/{b}/pkg")  # its own folder, as Run File has it
    assert in_namespace["file"].endswith(f"/{b}/pkg/where.py")
    job = await seen(client, bridge, second / "pkg" / "where.py", as_job=True)
    assert job["cwd"].endswith(f"/{b}")  # the folder's root, as `python pkg/where.py` there
    assert job["file"].endswith(f"{b}/pkg/where.py")  # absolute from Python 3.9 on


async def cwd_of(client: LanguageClient, bridge: Recorder, path: Path, code: str = "") -> str:
    """The kernel's working directory in a cell of ``path`` (running ``code`` first)."""
    uri = open_doc(client, path, f"# %%\nimport os\n{code}\nprint('CWD=' + os.getcwd())\n")
    done = await run_cell(client, uri, 1)
    assert field(done, "status") == "finished", bridge.text(field(done, "runId"), "stderr")
    return bridge.text(field(done, "runId")).strip().removeprefix("CWD=")


async def test_cells_and_selections_run_in_the_place_of_their_folder(
    client: LanguageClient, bridge: Recorder, workspace: Path, second: Path
) -> None:
    home = await cwd_of(client, bridge, workspace / "cells.py")
    there = await cwd_of(client, bridge, second / "cells.py")
    assert there == f"{home}/{second.name}"
    assert await cwd_of(client, bridge, workspace / "cells.py") == home
    uri = open_doc(client, second / "line.py", "import os; print(os.getcwd())\n")
    done = await run_selection(client, uri, 0)
    assert bridge.text(field(done, "runId")).strip() == there


async def test_a_chdir_of_the_persons_own_stands_until_another_folder_runs(
    client: LanguageClient, bridge: Recorder, workspace: Path, second: Path
) -> None:
    home = await cwd_of(client, bridge, workspace / "cells.py")
    there = f"{home}/{second.name}"
    mine = "os.makedirs('sub', exist_ok=True); os.chdir('sub')"
    assert await cwd_of(client, bridge, second / "cells.py", mine) == f"{there}/sub"
    assert await cwd_of(client, bridge, second / "cells.py") == f"{there}/sub"
    assert await cwd_of(client, bridge, workspace / "cells.py") == home
    assert await cwd_of(client, bridge, second / "cells.py") == there


async def test_a_traceback_of_a_job_in_the_second_folder_points_at_its_line(
    client: LanguageClient, bridge: Recorder, second: Path
) -> None:
    path = second / "boom.py"
    path.write_text("x = 1\nraise ValueError('boom')\n")
    result = await command(client, protocol.RUN_FILE_AS_JOB, {"uri": uri_of(path)})
    assert field(result, "status") == "failed"
    diagnostics = await bridge.wait_for(
        "the diagnostic", lambda: client.diagnostics.get(uri_of(path))
    )
    assert [d.range.start.line for d in diagnostics] == [1]


async def test_a_folder_added_later_syncs_and_a_removed_one_stops(
    client: LanguageClient,
    bridge: Recorder,
    workspace: Path,
    second: Path,
    tmp_path_factory: pytest.TempPathFactory,
    profile: str,
) -> None:
    third = tmp_path_factory.mktemp(f"third-{profile}")
    (third / "t.py").write_text(SHOW)
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[workspace_folder(third)], removed=[])
        )
    )
    await wait_for_contents(client, bridge, workspace, {f"{third.name}/t.py": SHOW})
    assert (await seen(client, bridge, third / "t.py", as_job=True))["cwd"].endswith(third.name)

    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(added=[], removed=[workspace_folder(third)])
        )
    )
    await command(client, protocol.SESSION_INFO)  # a round trip: the removal was handled
    shown = len(client.messages)
    assert await command(client, protocol.RUN_FILE, {"uri": uri_of(third / "t.py")}) is None
    assert "inside a workspace folder" in client.messages[shown].message
    # the folders still there keep syncing
    save(client, second / "lib.py", "Y = 4\n")
    await wait_for_contents(client, bridge, workspace, {f"{second.name}/lib.py": "Y = 4\n"})


async def test_a_folder_inside_another_syncs_as_part_of_it(
    client: LanguageClient, bridge: Recorder, workspace: Path, second: Path
) -> None:
    told = len([m for m in client.messages if "workspace folders sync to" in m.message])
    client.workspace_did_change_workspace_folders(
        types.DidChangeWorkspaceFoldersParams(
            event=types.WorkspaceFoldersChangeEvent(
                added=[workspace_folder(second / "pkg")], removed=[]
            )
        )
    )
    await command(client, protocol.SESSION_INFO)  # a round trip: the addition was handled
    assert len([m for m in client.messages if "workspace folders sync to" in m.message]) == told
    save(client, second / "pkg" / "where.py", SHOW + "# saved\n")
    want = {f"{second.name}/pkg/where.py": SHOW + "# saved\n", "pkg/where.py": None}
    await wait_for_contents(client, bridge, workspace, want)
