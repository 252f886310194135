"""Runs in the user's kernel, not in the bridge: a file run as ``python file`` runs it, but in
the session's namespace (as Spyder's ``runfile`` and VS Code's "Run Current File in
Interactive Window" do), so what it defines stays for the next runs.

The bridge sends this file as query code (`run_file.in_session_code`) with ``REL`` (the
file's path under the work dir), ``SOURCE`` (its text as uploaded, or None to read the
session's copy) and ``USER_NS`` given as globals of its own ``exec``: nothing lands in the
user's namespace but what the file defines. During the run ``__name__`` is ``"__main__"``,
``__file__`` and ``sys.argv[0]`` are the file's path in the session, the working directory is
the file's folder and that folder is first on ``sys.path`` (its siblings import); each is put
back afterwards. An exception is printed as Python prints it, from the file's frame down
(this wrapper's frames would only hide the file's line); ``sys.exit(0)`` ends the file quietly.

Kept compatible with Python 3.8 kernels.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Any

WORK_DIR = "/home/work"  # a Backend.AI session's work dir, where uploads land
_UNSET = object()


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the folder was removed under the kernel
        return None


def locate(rel: str) -> str:
    """The file's path in the session: under the work dir the kernel started in (the
    embedded server's session folder; ``/home/work`` on a cluster), else ``/home/work``."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    roots = [getattr(shell, "starting_dir", None), WORK_DIR, _cwd()]
    for root in roots:
        if root and os.path.isfile(os.path.join(root, rel)):
            return os.path.join(root, rel)
    return os.path.join(roots[0] or WORK_DIR, rel)


def _print_error(error: BaseException) -> None:
    """Python's own report of ``error``, from the file's frame down."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_globals is globals():
        tb = tb.tb_next  # this wrapper's frames
    sys.last_type, sys.last_value, sys.last_traceback = type(error), error, tb  # for %debug
    if sys.version_info >= (3, 12):
        sys.last_exc = error
    sys.stdout.flush()  # what the file printed comes before its traceback
    sys.stderr.write("".join(traceback.format_exception(type(error), error, tb)))
    sys.stderr.flush()


def _quiet_exit(error: BaseException) -> bool:
    return isinstance(error, SystemExit) and error.code in (0, None)


def main(ns: dict[str, Any], rel: str, source: str | bytes | None) -> None:
    path = locate(rel)
    folder = os.path.dirname(path)
    saved = {name: ns.get(name, _UNSET) for name in ("__file__", "__name__")}
    argv, cwd = sys.argv, _cwd()
    ns.update(__file__=path, __name__="__main__")
    sys.argv = [path]
    sys.path.insert(0, folder)
    try:
        if source is not None and not os.path.isdir(folder):
            # sent with its source, the file may run before its upload made its folder
            with contextlib.suppress(OSError):  # then it runs where the kernel is
                os.makedirs(folder, exist_ok=True)
        if os.path.isdir(folder):
            os.chdir(folder)
        if source is None:
            with open(path, "rb") as file:
                source = file.read()
        code = compile(source, path, "exec", dont_inherit=True)
        exec(code, ns)
    except BaseException as error:  # the file's: reported as Python reports it
        if not _quiet_exit(error):
            _print_error(error)
    finally:
        for name, value in saved.items():
            if value is _UNSET:
                ns.pop(name, None)
            else:
                ns[name] = value
        sys.argv = argv
        if folder in sys.path:
            sys.path.remove(folder)
        if cwd is not None and os.path.isdir(cwd):
            os.chdir(cwd)


if "REL" in globals() and "USER_NS" in globals():
    main(globals()["USER_NS"], globals()["REL"], globals()["SOURCE"])
