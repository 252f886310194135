"""Which vfolders a new session sees, and where (protocol doc §3.1, §12).

Folders live by name in ``<data dir>/vfolders/<name>`` and appear in the work dir through
symlinks. API v9 clients may name them by id (``mount_ids``): a folder's id is derived from
its name, so it stays the same across restarts without any stored state.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from bai_bridge.local.errors import InvalidParams, NoSuchObject
from bai_bridge.local.payloads import CreateConfig, MountOption
from bai_bridge.local.session import Mount

VFOLDER_NAME = re.compile(r"^[\w][\w.-]{0,63}$", re.ASCII)
CONTAINER_HOME = PurePosixPath("/home/work")


def vfolder_id(name: str) -> uuid.UUID:
    """The stable id of the vfolder ``name`` (as the ids of groups and users here)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"bai-bridge:vfolder:{name}")


def plan_mounts(vfolders_dir: Path, config: CreateConfig) -> tuple[Mount, ...]:
    """The mounts a create config asks for, by name, by id and by ``mount_options`` key
    (a key of ``mount_options`` is a mount request too, as on a 26.x manager)."""
    options = _options_by_name(vfolders_dir, config)
    destinations: dict[str, str | None] = {}
    for name in [*config.mounts, *config.mount_map]:
        destinations.setdefault(name, config.mount_map.get(name))
    by_id = _resolve_ids(vfolders_dir, [*config.mount_ids, *config.mount_id_map])
    for folder_id, name in by_id.items():
        destinations.setdefault(name, config.mount_id_map.get(folder_id))
    for name, option in options.items():
        destinations.setdefault(name, None)
        if destinations[name] is None:
            destinations[name] = option.mount_destination
    return tuple(
        _mount(vfolders_dir, name, target, options.get(name, MountOption()))
        for name, target in destinations.items()
    )


def _options_by_name(vfolders_dir: Path, config: CreateConfig) -> dict[str, MountOption]:
    by_name: dict[str, MountOption] = {}
    ids: dict[uuid.UUID, MountOption] = {}
    for key, option in config.mount_options.items():
        try:
            ids[uuid.UUID(key)] = option
        except ValueError:
            by_name[key] = option
    for folder_id, name in _resolve_ids(vfolders_dir, ids).items():
        by_name.setdefault(name, ids[folder_id])
    return by_name


def _resolve_ids(vfolders_dir: Path, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    known = {vfolder_id(name): name for name in existing_vfolders(vfolders_dir)}
    missing = [str(i) for i in wanted if i not in known]
    if missing:
        raise NoSuchObject(
            "virtual folder", "VFolder(s) not found or accessible: " + ", ".join(sorted(missing))
        )
    return {i: known[i] for i in wanted}


def existing_vfolders(vfolders_dir: Path) -> list[str]:
    """The folders' names (one small directory: listed in the event loop)."""
    try:
        entries = list(vfolders_dir.iterdir())
    except FileNotFoundError:
        return []
    return [e.name for e in entries if e.is_dir() and VFOLDER_NAME.match(e.name)]


def _mount(vfolders_dir: Path, name: str, destination: str | None, option: MountOption) -> Mount:
    if not VFOLDER_NAME.match(name) or name in (".", ".."):
        raise InvalidParams("Invalid vfolder name", {"mounts": name})
    check_option(name, option)
    target = vfolders_dir / name
    if option.subpath is not None:
        target = target.joinpath(*_relative_parts(option.subpath, "subpath"))
    return Mount(name, target, mount_link(name, destination))


def check_option(name: str, option: MountOption) -> None:
    """Refuse what a symlink in the work dir cannot give: another mount type, read-only."""
    if option.type != "bind":
        raise InvalidParams(
            f"Mount type {option.type!r} is not available here: folders are linked into the"
            " work dir (type 'bind').",
            {"mount_options": name},
        )
    if option.permission == "ro":
        raise InvalidParams(
            "This server cannot mount a folder read-only: the session runs as the server's"
            " user, who can write to every folder.",
            {"mount_options": name},
        )


def mount_link(name: str, target: str | None) -> Path:
    """Where a vfolder appears in the work dir: its name, or a path under /home/work."""
    if not target:
        return Path(name)
    path = PurePosixPath(target)
    if path.is_absolute():
        try:
            path = path.relative_to(CONTAINER_HOME)
        except ValueError:
            raise InvalidParams(
                "Mount paths must be under /home/work", {"mount_map": target}
            ) from None
    return Path(*_relative_parts(str(path), "mount_map"))


def _relative_parts(text: str, field: str) -> tuple[str, ...]:
    path = PurePosixPath(text)
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise InvalidParams("Invalid mount path", {field: text})
    return path.parts
