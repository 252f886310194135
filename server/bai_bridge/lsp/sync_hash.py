"""Content hashes of session files, for what their size and mtime cannot decide.

Only the public API is used, so a real cluster answers as the embedded server does. A small
file is downloaded and hashed here: a download does not queue behind a running cell. A larger
one (or many small ones) is hashed by `sha256sum` in a batch run, which does queue behind a
running cell (protocol §4.6), so it waits at most `HASH_WAIT`; what it could not hash by then
is left out of the answer, and the caller neither sends nor asks about it (it is tried again
on the next save or sync).
"""

from __future__ import annotations

import asyncio
import logging
import shlex
from collections.abc import Iterable, Mapping

from bai_bridge.api import BackendError, Kernel
from bai_bridge.api.download import fetch_digests
from bai_bridge.api.transfer import DOWNLOAD_PATHS_PER_REQUEST, batch_output

__all__ = ["HASH_BY_DOWNLOAD", "HASH_WAIT", "remote_digests"]

log = logging.getLogger(__name__)
HASH_BY_DOWNLOAD = 512 * 1024  # bytes: at most this, fetched and hashed here (no run)
HASH_WAIT = 10.0  # seconds a hashing run may wait behind a running cell
_DOWNLOADS_IN_FLIGHT = 4
# More small files than this are hashed by one run first (a download fetches 5 files a
# request: thousands of them, e.g. after a first sync was killed, are hundreds of requests);
# the ones it could not hash (the session busy) are still downloaded.
_ONE_RUN_FROM = 50
_COMMAND_CHARS = 32 * 1024  # paths on one sha256sum command line


async def remote_digests(
    kernel: Kernel, sizes: Mapping[str, int], wait: float = HASH_WAIT
) -> dict[str, str]:
    """The sha256 of each session file in ``sizes`` (path -> its size in the session) that
    could be read; a path left out of the answer is unproven. ``wait``: seconds the run for
    large files may wait behind a running cell (0: none is started)."""
    found: dict[str, str] = {}
    small = [p for p, size in sizes.items() if size <= HASH_BY_DOWNLOAD]
    large = [p for p, size in sizes.items() if size > HASH_BY_DOWNLOAD]
    if len(small) > _ONE_RUN_FROM and wait > 0:
        await _sum_into(kernel, [*small, *large], found, wait)
        small, large = [p for p in small if p not in found], []
    gate = asyncio.Semaphore(_DOWNLOADS_IN_FLIGHT)

    async def fetch(group: list[str]) -> None:
        async with gate:
            found.update(await _download_digests(kernel, group))

    async with asyncio.TaskGroup() as tasks:
        for group in _groups(small):
            tasks.create_task(fetch(group))
        if large and wait > 0:
            tasks.create_task(_sum_into(kernel, large, found, wait))
    return found


def _groups(paths: Iterable[str]) -> list[list[str]]:
    """Paths in requests' worth, no two of a request with one base name (each arrives in
    the download folder under its base name)."""
    groups: list[list[str]] = []
    names: set[str] = set()
    for path in paths:
        name = path.rpartition("/")[2]
        if not groups or len(groups[-1]) == DOWNLOAD_PATHS_PER_REQUEST or name in names:
            groups.append([])
            names = set()
        groups[-1].append(path)
        names.add(name)
    return groups


async def _download_digests(kernel: Kernel, paths: list[str]) -> dict[str, str]:
    try:
        return await fetch_digests(kernel, paths)
    except BackendError as e:  # e.g. removed meanwhile: unproven, not a match
        log.info("could not fetch %s to compare: %s", ", ".join(paths), e)
        return {}


async def _sum_into(kernel: Kernel, paths: list[str], found: dict[str, str], wait: float) -> None:
    """`sha256sum` in the session, waiting at most ``wait`` seconds behind a running cell
    (the run left queued then is harmless: it only reads, and leaving it interrupts nothing,
    a cell another client runs included)."""
    try:
        async with asyncio.timeout(wait):
            for command in _sum_commands(paths):
                out = await batch_output(kernel, command, "comparing files", interrupt=False)
                found.update(_parse_sums(out, paths))
    except TimeoutError:
        log.info("the session is busy: %d large files not compared yet", len(paths))
    except BackendError as e:
        log.info("could not compare large files in the session: %s", e)


def _sum_commands(paths: list[str]) -> list[str]:
    """Commands hashing the files that exist (a missing one is left out, not an error)."""
    commands: list[str] = []
    quoted: list[str] = []
    chars = 0
    for path in paths:
        word = shlex.quote(path)
        if quoted and chars + len(word) > _COMMAND_CHARS:
            commands.append(_sum_command(quoted))
            quoted, chars = [], 0
        quoted.append(word)
        chars += len(word) + 1
    if quoted:
        commands.append(_sum_command(quoted))
    return commands


def _sum_command(quoted: list[str]) -> str:
    return f"sha256sum -- {' '.join(quoted)} 2>/dev/null || true"


def _parse_sums(out: str, asked: Iterable[str]) -> dict[str, str]:
    """``sha256sum`` lines (``hash  path``) for the asked paths; escaped names (a leading
    backslash: the name holds one) are never asked for, and left out."""
    wanted = set(asked)
    found = {}
    for line in out.splitlines():
        digest, _, path = line.partition("  ")
        if path in wanted and len(digest) == 64:
            found[path] = digest
    return found
