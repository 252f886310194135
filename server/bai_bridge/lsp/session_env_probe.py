"""Runs in the user's kernel, not in the bridge: what Python environment the session has, and
packs of one package's sources for the bridge to download.

The bridge reads this file once and sends it as query code (`session_env.query_code`), with
``REQUEST``, ``USER_NS`` and ``HELPERS`` (the namespace probe's source, for its
``_forget_this_cell``) as globals of its own ``exec``. It prints one line, the marker and a
JSON reply. Nothing is imported of the packages it describes (``find_spec`` of a top-level
name imports nothing); nothing lands in the user's namespace.

Ops:
- ``environment``: Python version, ``sys.path``, the work dir, installed distributions (name,
  version, top-level modules, py.typed, editable) and every importable top-level name outside
  the standard library with the distribution that owns it ("" for none).
- ``pack``: the ``.py``/``.pyi`` files (and ``py.typed``) of top-level modules, stubs and
  shallow files first, bounded in count and bytes, written as gzip'd tar parts of under
  ``partBytes`` each into a folder of the work dir; only regular-file members.
- ``clean``: remove such a folder.

Kept compatible with Python 3.8 kernels.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tarfile
import time
from typing import Any

MARK = "\x1ebai-bridge-namespace\x1e"
BUDGET = 2.0  # seconds the environment op may spend reading distributions' metadata
MAX_FILE = 4 * 1024 * 1024  # a larger source file is generated data, not API: skipped
STALE_PACKS = 3600.0  # seconds after which a pack folder nobody cleaned is removed
SOURCE_SUFFIXES = (".py", ".pyi")


def _stdlib() -> set[str]:
    names = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
    return names | {"__future__", "_distutils_hack", "pip", "setuptools", "pkg_resources"}


def _first_parts(dist: Any) -> tuple[set[str], bool]:
    """Top-level names a distribution installs (top_level.txt, else its RECORD), and whether
    it ships a py.typed marker."""
    files = dist.files or []
    typed = any(str(f).endswith("/py.typed") for f in files)
    text = dist.read_text("top_level.txt")
    if text:
        return {line.strip() for line in text.splitlines() if line.strip()}, typed
    tops = set()
    for f in files:
        parts = str(f).split("/")
        head = parts[0]
        if head.endswith((".dist-info", ".egg-info", ".data")) or head in ("..", "__pycache__"):
            continue
        if len(parts) == 1:
            base, _, ext = head.partition(".")
            if ext in ("py", "pyi") or ext.endswith(("so", "pyd")):
                tops.add(base)
        else:
            tops.add(head)
    return tops, typed


def _editable(dist: Any) -> bool:
    text = dist.read_text("direct_url.json")
    try:
        return bool(text) and bool(json.loads(text).get("dir_info", {}).get("editable"))
    except ValueError:
        return False


def environment(request: dict[str, Any]) -> dict[str, Any]:
    import importlib.metadata as metadata
    import pkgutil

    deadline = time.monotonic() + float(request.get("budget", BUDGET))
    stdlib = _stdlib()
    modules: dict[str, str] = {}
    dists = []
    stamps = {}
    seen = set()
    truncated = False
    for dist in metadata.distributions():
        if time.monotonic() > deadline:
            truncated = True
            break
        name = dist.metadata["Name"] if dist.metadata else None
        if not name or name.lower() in seen:
            continue  # the first on sys.path is the one imported
        seen.add(name.lower())
        try:
            tops, typed = _first_parts(dist)
        except Exception:
            tops, typed = set(), False
        tops = {t for t in tops if t and t not in stdlib}
        editable = _editable(dist)
        for top in tops:
            modules.setdefault(top, name)
            if editable:  # its version stays while its files change
                stamps[top] = _spec_stamp(top)
        dists.append(
            {
                "name": name,
                "version": dist.version,
                "topLevel": sorted(tops),
                "typed": typed,
                "editable": editable,
            }
        )
    for entry in sys.path:
        folder = entry or os.getcwd()
        if not os.path.isdir(folder) or _is_stdlib_dir(folder):
            continue
        for info in pkgutil.iter_modules([folder]):
            if info.name in stdlib or info.name in modules:
                continue
            modules[info.name] = ""
            stamps[info.name] = _spec_stamp(info.name)
        for child in _stub_dirs(folder):
            if child not in modules:
                modules[child] = ""
                stamps[child] = _spec_stamp(child)
    version = sys.version_info
    return {
        "python": f"{version[0]}.{version[1]}.{version[2]}",
        "platform": sys.platform,
        "workDir": "/home/work" if os.path.isdir("/home/work") else os.getcwd(),
        "sysPath": list(sys.path),
        "distributions": dists,
        "modules": modules,
        "stamps": stamps,
        "truncated": truncated,
    }


def _is_stdlib_dir(folder: str) -> bool:
    import sysconfig

    real = os.path.realpath(folder)
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path and os.path.realpath(path) == real:
            return True
    return real.endswith(("lib-dynload", ".zip"))


def _spec_stamp(name: str) -> str:
    """Where a module lives and when its folder last changed: for a module no distribution
    owns, or an editable one, a new stamp is a new cache entry."""
    folders, single, _ = _roots(name)
    path = single or (folders[0] if folders else "")
    return f"{os.path.realpath(path)}:{os.stat(path).st_mtime_ns}" if path else "?"


def _stub_dirs(folder: str) -> list[str]:
    try:
        return [n for n in os.listdir(folder) if n.endswith("-stubs")]
    except OSError:
        return []


def _roots(name: str) -> tuple[list[str], str | None, str]:
    """(folders holding package ``name``, its single file, why neither) without importing."""
    if name.endswith("-stubs"):
        for entry in sys.path:
            path = os.path.join(entry or os.getcwd(), name)
            if os.path.isdir(path):
                return [path], None, ""
        return [], None, "not found"
    try:
        spec = importlib.util.find_spec(name)
    except Exception as e:
        return [], None, f"cannot be located ({e})"
    if spec is None:
        return [], None, "not found"
    if spec.submodule_search_locations:
        return [p for p in spec.submodule_search_locations if os.path.isdir(p)], None, ""
    origin = spec.origin or ""
    if origin.endswith(SOURCE_SUFFIXES) and os.path.isfile(origin):
        return [], origin, ""
    return [], None, f"compiled only ({os.path.basename(origin) or 'built-in'})"


def _candidates(name: str, limit: int) -> tuple[list[tuple[str, str, int]], dict[str, Any]]:
    """(archive name, local path, size) of every source file of ``name``, walking at most
    ``limit`` entries; plus what was skipped."""
    folders, single, why = _roots(name)
    notes: dict[str, Any] = {"why": why} if why else {}
    found = []
    if single:
        base = os.path.splitext(single)[0]
        for suffix in SOURCE_SUFFIXES:
            if os.path.isfile(base + suffix):
                found.append((name + suffix, base + suffix, os.path.getsize(base + suffix)))
        return found, notes
    visited = 0
    for root in folders:
        for here, dirs, files in os.walk(root):
            visited += len(dirs) + len(files)
            if visited > limit:
                notes["walkCut"] = True
                dirs[:] = []
                break
            linked = [d for d in dirs if os.path.islink(os.path.join(here, d))]
            if linked:  # their targets may be anywhere (a loop, the whole disk): not walked
                notes["symlinkedDirs"] = notes.get("symlinkedDirs", 0) + len(linked)
            dirs[:] = sorted(
                d for d in dirs if d not in linked and d != "__pycache__" and not d.startswith(".")
            )
            rel = os.path.relpath(here, root)
            for f in files:
                if not (f.endswith(SOURCE_SUFFIXES) or f == "py.typed"):
                    continue
                path = os.path.join(here, f)
                if not os.path.isfile(path):
                    continue  # a dangling link
                size = os.path.getsize(path)
                if size > MAX_FILE:
                    notes["large"] = notes.get("large", 0) + 1
                    continue
                member = "/".join(p for p in (name, rel, f) if p and p != ".")
                found.append((member, path, size))
    if not found and not why:
        notes["why"] = "compiled only (no .py or .pyi files)"
    return found, notes


def _priority(item: tuple[str, str, int]) -> tuple[int, int, str]:
    member = item[0]
    stub = member.endswith(".pyi") or member.endswith("py.typed") or "-stubs/" in member
    return (0 if stub else 1, member.count("/"), member)


def _write_parts(chosen: list[tuple[str, str, int]], folder: str, part_bytes: int) -> list[str]:
    parts: list[str] = []
    rest = chosen
    while rest:
        parts.append(f"part-{len(parts):03d}.tar.gz")
        path = os.path.join(folder, parts[-1])
        with open(path, "wb") as raw, _gzip_tar(raw) as tar:
            rest = _fill(tar, raw, rest, part_bytes)
    return parts


def _gzip_tar(raw: Any) -> tarfile.TarFile:
    # Level 6: tarfile's default 9 takes twice as long for little less.
    return tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6)


def _fill(
    archive: Any, raw: Any, files: list[tuple[str, str, int]], part_bytes: int
) -> list[tuple[str, str, int]]:
    """Add ``files`` until the part is full; the ones left over."""
    for i, (member, path, size) in enumerate(files):
        # A part's compressed size lags its file's position only by zlib's small buffer;
        # sources compress to well under 0.6 of their size.
        if i and raw.tell() + int(size * 0.6) > part_bytes:
            return files[i:]
        info = tarfile.TarInfo(member)
        info.size = size
        info.mode = 0o444
        with open(path, "rb") as f:
            archive.addfile(info, f)
    return []


def pack(request: dict[str, Any]) -> dict[str, Any]:
    max_files = int(request["maxFiles"])
    max_bytes = int(request["maxBytes"])
    files: list[tuple[str, str, int]] = []
    notes: dict[str, Any] = {}
    for name in request["modules"]:
        found, noted = _candidates(str(name), max_files * 10)
        files.extend(found)
        notes[name] = noted
    files.sort(key=_priority)
    chosen: list[tuple[str, str, int]] = []
    total = 0
    for item in files:
        if len(chosen) >= max_files or total + item[2] > max_bytes:
            break
        chosen.append(item)
        total += item[2]
    base = os.path.join(request["workDir"], request["packs"])
    _remove_stale(base)
    folder = os.path.join(base, request["token"])
    os.makedirs(folder, exist_ok=True)
    parts = _write_parts(chosen, folder, int(request["partBytes"])) if chosen else []
    return {
        "parts": [os.path.join(request["packs"], request["token"], p) for p in parts],
        "files": len(chosen),
        "bytes": total,
        "truncated": len(chosen) < len(files),
        "notes": notes,
    }


def _remove_stale(base: str) -> None:
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        path = os.path.join(base, name)
        try:
            if time.time() - os.stat(path).st_mtime > STALE_PACKS:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def clean(request: dict[str, Any]) -> dict[str, Any]:
    folder = os.path.join(request["workDir"], request["packs"], request["token"])
    shutil.rmtree(folder, ignore_errors=True)
    return {"cleaned": True}


def main(ns: dict[str, Any], request: dict[str, Any], helpers: str) -> None:
    ops = {"environment": environment, "pack": pack, "clean": clean}
    try:
        reply = ops[request["op"]](request)
    except Exception as e:
        reply = {"error": f"{type(e).__name__}: {e}"}
    tools: dict[str, Any] = {"__name__": "__bai_bridge_probe_helpers__"}
    exec(helpers, tools)  # its definitions only: without REQUEST it runs nothing
    tools["_forget_this_cell"](ns)
    sys.stdout.write(MARK + json.dumps(reply, separators=(",", ":")) + "\n")
    sys.stdout.flush()


if "REQUEST" in globals() and "USER_NS" in globals():
    main(globals()["USER_NS"], globals()["REQUEST"], globals()["HELPERS"])
