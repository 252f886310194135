"""Unpack the session's archives of a package's sources, every member checked: run as its own
process (`PackageCache.install` starts it), so its many small writes do not wait on the GIL
behind jedi (in-process they took 3x as long while completions ran). Standard library only.

Each member must be a regular file (no links, devices or folders) with a plain relative name
(no absolute path, ``..``, backslash or NUL) under ``<module>/`` of a module asked for, a
source suffix, within the file and package bounds. Members land in a fresh private staging
folder with O_EXCL|O_NOFOLLOW, so what `bai_bridge.api.tarsafe` guards a general download
against (links leading out, names resolving through links) cannot occur; a refused member
makes the caller discard the whole staging folder.

Reads ``{"archives", "dest", "modules", "maxFiles", "maxBytes"}`` (JSON) on stdin; prints
``{"files", "size"}`` or ``{"refused": why}``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

__all__ = ["Refused", "unpack_all"]

SOURCE_SUFFIXES = (".py", ".pyi")
MAX_FILE = 4 * 1024 * 1024  # as the kernel side bounds it


class Refused(Exception):
    """An archive breaks a rule: nothing of it may be used."""


def unpack_all(
    archives: Sequence[Path], dest: Path, modules: Sequence[str], max_files: int, max_bytes: int
) -> tuple[int, int]:
    """Every archive into ``dest``; (files, bytes)."""
    files, size = 0, 0
    for archive in archives:
        files, size = _unpack(archive, dest, modules, max_files, max_bytes, files, size)
    return files, size


def _unpack(
    archive: Path,
    dest: Path,
    modules: Sequence[str],
    max_files: int,
    max_bytes: int,
    files: int,
    size: int,
) -> tuple[int, int]:
    """One pass over the stream: each member checked, then written (into ``dest``, a fresh
    private folder the caller discards whole if a later member is refused)."""
    made: set[Path] = {dest}
    try:
        with tarfile.open(archive, "r|gz") as tar:
            for member in tar:
                _check(member, modules)
                files += 1
                size += member.size
                if files > max_files or size > max_bytes:
                    raise Refused(
                        f"refusing a package over its bounds ({max_files} files, {max_bytes} bytes)"
                    )
                _write_member(tar, member, dest, made)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise Refused(f"the session sent an unreadable archive: {e}") from e
    return files, size


def _check(member: tarfile.TarInfo, modules: Sequence[str]) -> None:
    name = member.name
    parts = PurePosixPath(name).parts
    if not member.isfile():
        raise Refused(f"refusing archive member that is not a regular file: {name!r}")
    if "\\" in name or "\0" in name or any(p in ("", ".", "..") for p in name.split("/")):
        raise Refused(f"refusing archive member with an odd path: {name!r}")
    top = parts[0] if len(parts) > 1 else PurePosixPath(name).stem
    if top not in modules:
        raise Refused(f"refusing archive member outside the package: {name!r}")
    if not (name.endswith(SOURCE_SUFFIXES) or parts[-1] == "py.typed"):
        raise Refused(f"refusing archive member that is not Python source: {name!r}")
    if member.size > MAX_FILE:
        raise Refused(f"refusing an archive member over {MAX_FILE} bytes: {name!r}")


def _write_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, dest: Path, made: set[Path]
) -> None:
    target = dest.joinpath(*PurePosixPath(member.name).parts)
    if target.parent not in made:
        target.parent.mkdir(parents=True, exist_ok=True)
        made.add(target.parent)
    source = tar.extractfile(member)
    if source is None:
        raise Refused(f"cannot read archive member {member.name!r}")
    # O_EXCL and no following links: a name given twice is refused, never written through.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(target, flags, 0o444)  # read-only from the start
    except FileExistsError:
        raise Refused(f"refusing a repeated archive member: {member.name!r}") from None
    with source, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out)


def main() -> None:
    request = json.load(sys.stdin)
    try:
        files, size = unpack_all(
            [Path(a) for a in request["archives"]],
            Path(request["dest"]),
            request["modules"],
            request["maxFiles"],
            request["maxBytes"],
        )
    except Refused as e:
        print(json.dumps({"refused": str(e)}))
        return
    print(json.dumps({"files": files, "size": size}))


if __name__ == "__main__":
    main()
