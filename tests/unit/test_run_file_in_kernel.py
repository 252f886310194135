"""The code Run File sends, run here as a kernel would run it (a plain ``exec`` in a
namespace): the file's context for the run and nothing of it afterwards, its own text
whatever its encoding, and Python's report of an error from the file's frame down."""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from bai_bridge.lsp.run_file import INLINE_LIMIT, in_session_code


def run(work: Path, rel: str, source: bytes) -> dict[str, Any]:
    (work / rel).parent.mkdir(parents=True, exist_ok=True)
    (work / rel).write_bytes(source)
    namespace: dict[str, Any] = {"__name__": "__main__", "before": 1}
    exec(in_session_code(rel, source), namespace)
    return namespace


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the kernel's own folder: where its files are
    return tmp_path.resolve()


def test_the_file_runs_with_its_context_and_only_its_names_stay(work: Path) -> None:
    argv, path = list(sys.argv), list(sys.path)
    source = b"import os, sys\nseen = (__file__, list(sys.argv), os.getcwd(), __name__)\n"
    namespace = run(work, "pkg/main.py", source)
    file = str(work / "pkg" / "main.py")
    assert namespace["seen"] == (file, [file], str(work / "pkg"), "__main__")
    assert (os.getcwd(), sys.argv, sys.path) == (str(work), argv, path)
    assert set(namespace) - {"__builtins__"} == {"__name__", "before", "os", "sys", "seen"}


def test_a_bom_and_a_coding_declaration_are_honoured(work: Path) -> None:
    assert run(work, "bom.py", "\ufeffword = 'ü'\n".encode())["word"] == "ü"
    latin = "# -*- coding: latin-1 -*-\nword = 'ü'\n".encode("latin-1")
    assert run(work, "latin.py", latin)["word"] == "ü"


def test_a_large_file_is_read_from_the_sessions_copy(work: Path) -> None:
    source = b"big = 1\n" + b"#" * INLINE_LIMIT + b"\n"
    assert "#####" not in in_session_code("big.py", source)
    assert run(work, "big.py", source)["big"] == 1


def test_an_error_is_reported_from_the_files_frame(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    namespace = run(work, "fails.py", b"x = 1\n\nraise KeyError('gone')\n")
    stderr = capsys.readouterr().err
    assert stderr.startswith("Traceback (most recent call last):\n"), stderr
    assert f'File "{work / "fails.py"}", line 3, in <module>' in stderr
    assert stderr.count('File "') == 1  # none of the wrapper's frames
    assert stderr.endswith("KeyError: 'gone'\n")
    assert namespace["x"] == 1  # what ran before the error stays, as in a cell
    assert "__file__" not in namespace


def test_sys_exit_zero_is_quiet_and_another_code_is_reported(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(work, "done.py", b"import sys\nsys.exit(0)\n")
    assert capsys.readouterr().err == ""
    run(work, "three.py", b"import sys\nsys.exit(3)\n")
    assert capsys.readouterr().err.endswith("SystemExit: 3\n")


def test_a_file_run_before_its_upload_landed_still_runs_in_its_folder(
    work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An inline run goes beside its upload: the file's folder may not be there yet.
    kernel = types.SimpleNamespace(starting_dir=str(work))
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel))
    source = b"import os\nseen = (__file__, os.getcwd())\n"
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(in_session_code("lib/tools/where.py", source), namespace)
    folder = work / "lib" / "tools"
    assert namespace["seen"] == (str(folder / "where.py"), str(folder))
    assert os.getcwd() == str(work)
