"""The language server's pure parts: cells, traceback mapping, options, sync planning."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pygls.protocol.json_rpc import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
)

from bai_bridge.lsp.cells import cell_at, cell_snippet, cells_above, find_cells, selection_snippet
from bai_bridge.lsp.completion_engine import CompletionRequest, _normalize
from bai_bridge.lsp.config import SESSION_NAME_RE, default_session_name, parse_options
from bai_bridge.lsp.diagnostics import RunDiagnostics
from bai_bridge.lsp.jsonrpc import Kind, kind_of
from bai_bridge.lsp.static_completion import jedi_candidates, word_before
from bai_bridge.lsp.sync_hash import _groups, _parse_sums, _sum_commands
from bai_bridge.lsp.sync_plan import (
    Check,
    Conflict,
    LocalFile,
    Manifest,
    ManifestEntry,
    RemoteStat,
    is_excluded,
    plan_sync,
    scan_workspace,
    settle_plan,
)
from bai_bridge.lsp.tracebacks import RemoteError, find_error

SOURCE = "import os\n\n# %% load\nx = 1\ny = 2\n# %% train\nz = x + y\nprint(z)\n"


def test_cells_split_on_markers_and_keep_the_preamble() -> None:
    cells = find_cells(SOURCE)
    assert [(c.start, c.end, c.title) for c in cells] == [
        (0, 2, ""),
        (2, 5, "load"),
        (5, 8, "train"),
    ]
    assert cell_at(cells, 6) == cells[2]
    assert cells_above(cells, 6) == cells[:2]
    snippet = cell_snippet(SOURCE, [cells[1]])
    assert snippet is not None
    assert snippet.first_line == 2
    assert snippet.code == "# %% load\nx = 1\ny = 2\n"


def test_a_file_without_markers_is_one_cell() -> None:
    assert [(c.start, c.end) for c in find_cells("a = 1\nb = 2\n")] == [(0, 2)]


def test_selection_snippets() -> None:
    text = "def f():\n    a = 1\n    b = 2\nc = 3\n"
    assert selection_snippet(text, (3, 0), (3, 0)).code == "c = 3\n"
    assert selection_snippet(text, (1, 4), (1, 9)).code == "a = 1\n"
    multi = selection_snippet(text, (1, 4), (3, 0))
    assert (multi.code, multi.first_line) == ("a = 1\nb = 2\n", 1)


IPYTHON_TB = (
    "\x1b[31m-------\x1b[39m\n"
    "\x1b[31mZeroDivisionError\x1b[39m   Traceback (most recent call last)\n"
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[3]\x1b[39m\x1b[32m, line 2\x1b[39m\n"
    "      1 a=1\n----> 2 f()\n"
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[2]\x1b[39m\x1b[32m, line 2\x1b[39m, in f()\n"
    "----> 2     return 1/0\n\x1b[31mZeroDivisionError\x1b[39m: division by zero"
)


def test_traceback_maps_to_the_newest_cell() -> None:
    error = find_error(IPYTHON_TB)
    assert error is not None
    assert (error.line, error.message) == (2, "ZeroDivisionError: division by zero")


def test_traceback_forms_of_older_kernels_and_batch_runs() -> None:
    old = 'File "<ipython-input-4-9f1e2d>", line 3, in <module>\nValueError: bad\n'
    assert find_error(old) is not None
    assert find_error(old).line == 3  # type: ignore[union-attr]
    batch = (
        "Traceback (most recent call last):\n"
        '  File "/home/work/pkg/train.py", line 7, in <module>\n'
        "    main()\nKeyError: 'lr'\n"
    )
    error = find_error(batch, remote_path="pkg/train.py")
    assert error is not None
    assert (error.line, error.message) == (7, "KeyError: 'lr'")
    namesake = batch.replace("main()", 'main()\n  File "/home/work/lib/train.py", line 2')
    assert find_error(namesake, remote_path="pkg/train.py").line == 7  # type: ignore[union-attr]
    assert find_error("just some warnings on stderr\n") is None


def test_options_fall_back_per_field_and_report_each_problem() -> None:
    options, problems = parse_options(
        {"baiBridge": {"image": "python:3.12", "sessionName": "a b", "maxFileSize": -1}},
        {"completionTimeout": 0.3, "nope": 1},
    )
    assert options.image == "python:3.12"
    assert options.session_name is None
    assert options.max_file_size > 0
    assert options.completion_timeout == 0.3
    assert len(problems) == 3
    assert any("nope" in p for p in problems)


def test_default_session_name_is_stable_and_valid(tmp_path: Path) -> None:
    folder = tmp_path / "my project (copy)"
    name = default_session_name(folder)
    assert name == default_session_name(folder)
    assert SESSION_NAME_RE.match(name)
    assert name != default_session_name(tmp_path / "other")


def test_sync_plan_sends_only_what_the_session_lacks() -> None:
    files = [LocalFile("a.py", 3, "h1"), LocalFile("b.py", 3, "h2"), LocalFile("c.py", 3, "h3")]
    files += [LocalFile("d.py", 3, "h4"), LocalFile("e.py", 3, "h5-new")]
    manifest = Manifest(
        "s1",
        {
            "b.py": ManifestEntry("h2", 3, 100.0),
            "c.py": ManifestEntry("h3", 3, 100.0),
            "e.py": ManifestEntry("h5", 3, 100.0),
        },
    )
    remote = {
        "b.py": RemoteStat(3, 100.0),
        "c.py": RemoteStat(9, 200.0),  # changed in the session since sync put it there
        "d.py": RemoteStat(3, 50.0),  # not put there by sync
        "e.py": RemoteStat(3, 100.0),
    }
    plan = plan_sync(files, remote, manifest)
    assert plan.upload == ["a.py"]
    assert plan.unchanged == ["b.py"]
    assert plan.conflicts == [Conflict("c.py", "changed-in-session")]
    # Same size and mtime prove nothing (cp -p, os.utime): the session's content decides
    # whether e.py is replaced, and whether d.py is already the same as here.
    assert plan.checks == [
        Check("d.py", Conflict("d.py", "not-synced-by-bridge")),
        Check("e.py", Conflict("e.py", "changed-in-session"), "h5"),
    ]
    by_path = {f.path: f for f in files}
    as_sent = settle_plan(plan, by_path, {"d.py": "h4", "e.py": "h5"})
    assert (as_sent.upload, as_sent.same, as_sent.unproven) == (["a.py", "e.py"], ["d.py"], [])
    edited = settle_plan(plan, by_path, {"d.py": "other", "e.py": "edited-in-session"})
    assert edited.upload == ["a.py"]
    assert edited.conflicts == [
        Conflict("c.py", "changed-in-session"),
        Conflict("d.py", "not-synced-by-bridge"),
        Conflict("e.py", "changed-in-session"),
    ]
    unknown = settle_plan(plan, by_path, {})
    assert (unknown.upload, unknown.unproven) == (["a.py"], ["d.py", "e.py"])
    touched = plan_sync([files[4]], {"e.py": RemoteStat(3, 150.0)}, manifest)  # a touch there
    assert touched.checks == [Check("e.py", Conflict("e.py", "changed-in-session"), "h5")]
    assert settle_plan(touched, by_path, {"e.py": "h5"}).upload == ["e.py"]
    assert Manifest.from_json(manifest.to_json()) == manifest


def test_scan_honours_excludes_gitignore_and_size_cap(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / "main.py").write_text("print(1)\n")
    (tmp_path / "big.bin").write_bytes(b"x" * 2000)
    (tmp_path / "pkg" / ".gitignore").write_text("*.log\n")
    (tmp_path / "pkg" / "run.log").write_text("noise")
    (tmp_path / "pkg" / "mod.py").write_text("")
    (tmp_path / ".gitignore").write_text("data/\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("1,2")
    (tmp_path / "pkg\\util.py").write_text("# the session would write pkg/util.py\n")
    (tmp_path / "tab\there.py").write_text("")
    files, too_large, problems = scan_workspace(tmp_path, [".git/"], max_size=1000)
    assert sorted(f.path for f in files) == [
        ".gitignore",
        "main.py",
        "pkg/.gitignore",
        "pkg/mod.py",
    ]
    assert too_large == ["big.bin"]
    assert sorted(problems) == ["pkg\\util.py", "tab\there.py"]
    assert "backslash" in problems["pkg\\util.py"]
    assert "control character" in problems["tab\there.py"]


def test_static_completion() -> None:
    assert word_before("x = train_lo", 12) == "train_lo"
    names = jedi_candidates("import os\nos.pa", 1, 5, None)
    assert any(c.label == "path" and c.source == "static" for c in names)


def test_one_path_is_checked_against_excludes_and_gitignores_on_its_way(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("*.log\nbuild/\n")
    (tmp_path / ".gitignore").write_text("secrets.txt\n")
    excludes = [".git/", "*.pyc"]
    assert is_excluded(tmp_path, excludes, "pkg/run.log")
    assert is_excluded(tmp_path, excludes, "pkg/build/out.py")
    assert is_excluded(tmp_path, excludes, "deep/secrets.txt")
    assert is_excluded(tmp_path, excludes, ".git/config")
    assert is_excluded(tmp_path, excludes, "x/y.pyc")
    assert not is_excluded(tmp_path, excludes, "pkg/mod.py")
    assert not is_excluded(tmp_path, excludes, "run.log")  # pkg's .gitignore stays in pkg


def test_a_span_that_runs_cleanly_clears_only_its_own_diagnostic() -> None:
    store = RunDiagnostics()
    store.record("file:///a.py", 0, 3, RemoteError(2, "ValueError: x"))
    both = store.record("file:///a.py", 10, 2, RemoteError(1, "KeyError: 'k'"))
    assert [d.range.start.line for d in both] == [1, 10]
    left = store.record("file:///a.py", 0, 3, None)
    assert [(d.range.start.line, d.message) for d in left] == [(10, "KeyError: 'k'")]


def test_runtime_candidates_edit_only_the_word_typed() -> None:
    request = CompletionRequest("df.ke", 0, 5)
    found = _normalize(["df.keys", "keys", "kurt", "df.kernel"], request, "session")
    assert [c.label for c in found] == ["keys", "kernel"]
    assert CompletionRequest("x = np.lin", 0, 10).owner == "np"


def test_message_kinds_match_what_pygls_would_tell() -> None:
    assert kind_of(types.ExecuteCommandRequest) is Kind.REQUEST
    assert kind_of(JsonRPCRequestMessage) is Kind.REQUEST
    assert kind_of(types.DidChangeTextDocumentNotification) is Kind.NOTIFICATION
    assert kind_of(JsonRPCNotification) is Kind.NOTIFICATION
    assert kind_of(types.ExecuteCommandResponse) is Kind.RESPONSE
    assert kind_of(JsonRPCResponseMessage) is Kind.RESPONSE
    assert kind_of(types.ResponseErrorMessage) is Kind.ERROR
    assert kind_of(dict) is None


def test_files_to_compare_are_fetched_in_requests_without_two_of_one_name() -> None:
    """Each downloaded file lands under its base name: two in one request would collide."""
    paths = ["a/x.py", "b/x.py", "c.py", "d.py", "e.py", "f.py", "g.py", "h/x.py"]
    groups = _groups(paths)
    assert [p for g in groups for p in g] == paths
    assert groups == [["a/x.py"], ["b/x.py", "c.py", "d.py", "e.py", "f.py"], ["g.py", "h/x.py"]]


def test_session_hashes_are_read_only_for_the_files_asked() -> None:
    digest = "ab" * 32
    out = f"{digest}  pkg/a b.py\n{digest}  other.py\n\\{digest}  odd\\\\name\nshort  c.py\n"
    assert _parse_sums(out, ["pkg/a b.py", "c.py"]) == {"pkg/a b.py": digest}
    commands = _sum_commands([f"d/{i:05d}.bin" for i in range(5000)])
    assert len(commands) > 1
    assert all(c.startswith("sha256sum -- ") and c.endswith(" || true") for c in commands)
    assert sum(c.count(".bin") for c in commands) == 5000
