"""Handlers of upload, download, list_files and the PTY stream (§3.9-§3.11, §5.2)."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

from aiohttp import web

from bai_bridge.local import payloads
from bai_bridge.local.config import ServerProfile
from bai_bridge.local.context import api_version, find_session, read_json, server
from bai_bridge.local.files import (
    FileLimits,
    list_files,
    multipart_reader,
    receive_upload,
    send_download,
)
from bai_bridge.local.files_threads import SMALL_DIR_BYTES, in_thread
from bai_bridge.local.pty import Terminal, serve_pty
from bai_bridge.local.versioning import V9, ApiVersion

# 26.x managers send PTY output in BINARY frames (text ones up to 24.09).
BINARY_PTY_SINCE = ApiVersion.parse(V9)


def file_limits(request: web.Request) -> FileLimits:
    config = server(request).config
    return FileLimits(
        max_upload_files=config.max_upload_files,
        max_upload_file_size=config.max_upload_file_size,
        max_download_paths=config.max_download_paths,
        max_download_size=config.max_download_size,
    )


async def upload(request: web.Request) -> web.Response:
    session = find_session(request)
    reader = await multipart_reader(request)
    await receive_upload(reader, session.work_dir, file_limits(request), mounts=session.mounts)
    return web.Response(status=204)


async def download(request: web.Request) -> web.StreamResponse:
    # GET with a JSON body (clients before 24.09) and POST (24.09 clients) both work.
    body = await read_json(request)
    download_request = payloads.parse_download(body, request.query.getall("files", []))
    session = find_session(request)
    return await send_download(
        request,
        session.work_dir,
        download_request.files,
        file_limits(request),
        mounts=session.mounts,
    )


async def files(request: web.Request) -> web.Response:
    list_request = payloads.parse_list_files(await read_json(request))
    session = find_session(request)
    path = list_request.path
    if _small_folder(session.work_dir, path):
        listing = list_files(session.work_dir, path, mounts=session.mounts)
    else:
        listing = await in_thread(list_files, session.work_dir, path, mounts=session.mounts)
    return web.json_response(listing)


def _small_folder(work_dir: Path, path: str) -> bool:
    """Whether ``path`` looks small enough to list in the event loop (one stat decides;
    the listing itself still checks where the path leads)."""
    try:
        st = os.stat(work_dir / path)
    except (OSError, ValueError):
        return False  # listed in a thread, which answers why it cannot be listed
    return st.st_size <= SMALL_DIR_BYTES


async def stream_pty(request: web.Request) -> web.WebSocketResponse:
    session = find_session(request)

    async def terminal() -> Terminal:
        return await session.get_terminal(partial(Terminal.spawn, bash_rc=session.shell_rc))

    async def restart() -> Terminal:
        await session.restart()
        return await terminal()

    async def ping() -> None:
        session.touch()

    # BINARY as managers since 25.6 send it; TEXT for older API versions on the embedded
    # profile, so the 23.9.10 client (which reads only TEXT) keeps working there.
    cluster = server(request).config.profile is ServerProfile.CLUSTER
    binary = cluster or api_version(request) >= BINARY_PTY_SINCE
    # A manager keeps no scrollback: on the cluster profile a re-attach replays nothing.
    since = None if cluster else _replay_since(request.query.get("since"))
    return await serve_pty(request, terminal, restart, ping, binary_output=binary, since=since)


def _replay_since(text: str | None) -> int | None:
    """``?since=N``: N bytes of output seen, -1 for none; anything else asks for no replay."""
    try:
        return max(-1, int(text)) if text is not None else None
    except ValueError:
        return None


def add_routes(app: web.Application) -> None:
    for prefix in ("kernel", "session"):
        base = f"/{prefix}/{{sid}}"
        app.router.add_post(base + "/upload", upload)
        app.router.add_get(base + "/download", download)
        app.router.add_post(base + "/download", download)
        app.router.add_get(base + "/files", files)
        app.router.add_get(f"/stream/{prefix}/{{sid}}/pty", stream_pty)
