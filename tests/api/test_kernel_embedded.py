"""Every Kernel method against the embedded session server, as a v4 and as a v8 client."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from api_support import Embedded

from bai_bridge.api import APISession, BatchOptions, ExecuteStream
from bai_bridge.api.errors import (
    BackendAuthError,
    BackendInvalidParamsError,
    BackendNotFoundError,
    TransferError,
)
from bai_bridge.api.events import EventStream
from bai_bridge.api.kernel import Kernel
from bai_bridge.api.models import ExecutionResult, Stderr, Stdout
from bai_bridge.api.upload import stage_large, upload

VERSIONS = {"v4": "v4.20190615", "v8": "v8.20240915", "v9": "v9.20250722"}


@pytest.fixture(params=sorted(VERSIONS))
async def api(request: pytest.FixtureRequest, embedded: Embedded) -> AsyncIterator[APISession]:
    async with APISession(embedded.client(VERSIONS[request.param])) as session:
        yield session


@pytest.fixture
async def kernel(api: APISession) -> AsyncIterator[Kernel]:
    kernel = await api.Kernel.get_or_create("python")
    assert kernel.status == "RUNNING", f"the session did not start: {kernel!r}"
    try:
        yield kernel
    finally:
        with contextlib.suppress(BackendNotFoundError):
            await kernel.destroy()


def stdout(results: list[ExecutionResult]) -> str:
    return "".join(i.text for r in results for i in r.console if isinstance(i, Stdout))


def stderr(results: list[ExecutionResult]) -> str:
    return "".join(i.text for r in results for i in r.console if isinstance(i, Stderr))


async def run(kernel: Kernel, code: str, **kwargs: object) -> list[ExecutionResult]:
    async with asyncio.timeout(60):
        return [r async for r in kernel.run(code, **kwargs)]  # type: ignore[arg-type]


async def test_negotiation_and_paths(api: APISession, embedded: Embedded, kernel: Kernel) -> None:
    assert api.server_info is not None
    assert api.server_info.version == "v9.20250722"
    first = embedded.recorder.requests[0]
    assert (first.method, first.path, first.signed) == ("GET", "/", False)
    create = embedded.recorder.requests[1]
    assert create.signed
    assert create.version == str(api.api_version)
    if api.api_version.major == 4:
        assert create.path == "/kernel/create"
        assert "clientSessionToken" in create.body_shape  # type: ignore[operator]
        assert "clusterSize" in create.body_shape["config"]  # type: ignore[index]
        assert kernel.session_id is None
    else:
        assert create.path == "/session"
        assert "name" in create.body_shape  # type: ignore[operator]
        assert "clusterSize" in create.body_shape  # type: ignore[operator]
        assert kernel.session_id is not None


async def test_get_or_create_reuses_then_destroy(api: APISession) -> None:
    first = await api.Kernel.get_or_create("python", client_token="reuse-me")
    again = await api.Kernel.get_or_create("python", client_token="reuse-me")
    assert (first.created, again.created) == (True, False)
    assert first.status == again.status == "RUNNING"
    result = await first.destroy()
    assert result.stats.get("status") == "terminated"
    with pytest.raises(BackendNotFoundError):
        await first.get_info()


async def test_get_info_and_logs(kernel: Kernel) -> None:
    info = await kernel.get_info()
    assert info.status == "RUNNING", info
    assert info.image, info
    logs = await kernel.get_logs()
    assert isinstance(logs.logs, str)


async def test_execute_steps_by_hand(kernel: Kernel) -> None:
    result = await kernel.execute(code="print(6 * 7)")
    results = [result]
    while not result.is_final:
        result = await kernel.execute(result.run_id, "", "continue")
        results.append(result)
    assert result.status == "finished"
    assert result.exit_code == 0
    assert stdout(results) == "42\n"
    with pytest.raises(ValueError, match="needs code"):
        await kernel.execute(result.run_id, None, "continue")


async def test_execute_user_input_mode_answers_input(kernel: Kernel) -> None:
    """The seed's word for the input step, "user-input", answers a real input()."""
    result = await kernel.execute(code="name = input('Name? ')\nprint('hello', name)")
    results = [result]
    while result.status not in ("waiting-input", "finished"):
        result = await kernel.execute(result.run_id, "", "continue")
        results.append(result)
    assert result.status == "waiting-input"
    result = await kernel.execute(result.run_id, "Grace", "user-input")
    results.append(result)
    while not result.is_final:
        result = await kernel.execute(result.run_id, "", "continue")
        results.append(result)
    assert result.status == "finished"
    assert "hello Grace" in stdout(results)


async def test_run_query_answers_input(kernel: Kernel) -> None:
    prompts: list[tuple[str, bool]] = []

    async def answer(prompt: str, password: bool) -> str:
        prompts.append((prompt, password))
        return "secret" if password else "Ada"

    code = (
        "import getpass\nname = input('Name? ')\npw = getpass.getpass('PW: ')\nprint(name, len(pw))"
    )
    results = await run(kernel, code, on_input=answer)
    assert prompts == [("Name? ", False), ("PW: ", True)]
    assert results[-1].status == "finished"
    assert "Ada 6" in stdout(results)


async def test_run_batch_steps_and_exit_code(kernel: Kernel) -> None:
    opts = BatchOptions(build="echo built", exec="echo ran; echo oops >&2; exit 3")
    results = await run(kernel, "", mode="batch", opts=opts)
    assert [r.status for r in results if r.status != "continued"] == [
        "clean-finished",
        "build-finished",
        "finished",
    ]
    assert results[-1].exit_code == 3
    assert "built" in stdout(results)
    assert "ran" in stdout(results)
    assert "oops" in stderr(results)


async def test_run_error_in_user_code_is_output(kernel: Kernel) -> None:
    results = await run(kernel, "1/0")
    assert results[-1].status == "finished"
    assert "ZeroDivisionError" in stderr(results) + stdout(results)


async def test_cancelling_a_run_interrupts_it(kernel: Kernel, embedded: Embedded) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for result in kernel.run("import time\nprint('start', flush=True)\ntime.sleep(60)"):
            if "start" in stdout([result]):
                started.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(30):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert any(r.path.endswith("/interrupt") for r in embedded.recorder.requests)
    begun = time.monotonic()
    results = await run(kernel, "print('after')")
    assert stdout(results) == "after\n"
    assert time.monotonic() - begun < 20  # the sleep did not have to finish


async def test_complete(kernel: Kernel) -> None:
    await run(kernel, "import os\nlongish_name_for_test = 1")
    candidates = await kernel.complete("longish_na", {"row": 0, "col": 10, "line": "longish_na"})
    assert "longish_name_for_test" in candidates
    assert kernel.completion_supported is True


async def test_interrupt_and_restart(kernel: Kernel) -> None:
    await kernel.interrupt()
    await run(kernel, "remembered = 5")
    await kernel.restart()
    results = await run(kernel, "print('remembered' in globals())")
    assert stdout(results) == "False\n"


def make_tree(root: Path, count: int) -> list[Path]:
    files = []
    for i in range(count):
        path = root / ("sub" if i % 2 else "") / f"f{i:02d}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {i}\n")
        files.append(path)
    return files


async def test_upload_list_download_round_trip(
    kernel: Kernel, embedded: Embedded, tmp_path: Path
) -> None:
    local = tmp_path / "local"
    files = await asyncio.to_thread(make_tree, local, 25)  # more than 20: two requests
    progress: list[tuple[int, int]] = []
    result = await kernel.upload(
        files, basedir=local, progress=lambda d, t: progress.append((d, t))
    )
    assert len(result.file_names) == 25
    assert "sub/f01.txt" in result.file_names
    uploads = [r for r in embedded.recorder.requests if r.path.endswith("/upload")]
    assert len(uploads) == 2
    assert {r.content_type for r in uploads} == {"multipart/form-data"}
    assert progress[-1][0] == progress[-1][1] == sum(len(f"file {i}\n") for i in range(25))

    listing = await kernel.list_files("sub")
    assert {e.filename for e in listing.files} >= {"f01.txt", "f03.txt"}
    assert all(not e.is_dir for e in listing.files)

    dest = tmp_path / "back"
    names = [f"f{i:02d}.txt" for i in range(0, 14, 2)] + ["sub"]  # 8 paths: two requests
    downloaded = await kernel.download(names, dest)
    assert "f00.txt" in downloaded.file_names
    assert (dest / "sub" / "f13.txt").read_text() == "file 13\n"
    assert (dest / "f12.txt").read_text() == "file 12\n"
    downloads = [r for r in embedded.recorder.requests if r.path.endswith("/download")]
    assert len(downloads) == 2
    assert {r.method for r in downloads} == {kernel.session.download_method}


@pytest.mark.parametrize("big", [False, True], ids=["in-memory", "streamed"])
async def test_file_names_arrive_as_they_are(kernel: Kernel, tmp_path: Path, big: bool) -> None:
    """Names that look percent-encoded, with spaces, quotes or non-ASCII land unchanged."""
    local = tmp_path / "names"
    names = ["a%41.txt", "sub/100%.txt", "sub/x%2Fy.txt", 'sp ace "q".txt', "ünï.txt"]
    body = b"x" * (600 * 1024 if big else 3)  # big: through the streaming payload
    files = []
    for name in names:
        path = local / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        files.append(path)
    await kernel.upload(files, basedir=local)
    top = {e.filename for e in (await kernel.list_files(".")).files}
    sub = {e.filename for e in (await kernel.list_files("sub")).files}
    assert {"a%41.txt", 'sp ace "q".txt', "ünï.txt"} <= top
    assert "aA.txt" not in top
    assert sub == {"100%.txt", "x%2Fy.txt"}


async def test_show_progress_draws_a_bar(
    kernel: Kernel, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = await asyncio.to_thread(make_tree, tmp_path / "p", 3)
    await kernel.upload(files, basedir=tmp_path / "p", show_progress=True)
    await kernel.download(["f00.txt"], tmp_path / "back", show_progress=True)
    err = capsys.readouterr().err
    assert "Uploading" in err
    assert "Downloading" in err


async def test_upload_refuses_paths_outside_basedir(
    kernel: Kernel, embedded: Embedded, tmp_path: Path
) -> None:
    inside = tmp_path / "base" / "ok.txt"
    inside.parent.mkdir()
    inside.write_text("ok")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("no")
    with pytest.raises(ValueError, match="outside of the base directory"):
        await kernel.upload([inside, outside], basedir=inside.parent)
    with pytest.raises(ValueError, match="outside of the base directory"):
        await kernel.upload([inside.parent / ".." / "elsewhere.txt"], basedir=inside.parent)
    assert not any(r.path.endswith("/upload") for r in embedded.recorder.requests)


def write_random(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_five_mib_file_goes_up_in_chunks_and_comes_back(
    kernel: Kernel, embedded: Embedded, tmp_path: Path
) -> None:
    big = tmp_path / "up" / "data" / "big.bin"
    big.parent.mkdir(parents=True)
    digest = await asyncio.to_thread(write_random, big, 5 << 20)
    result = await kernel.upload([big], basedir=tmp_path / "up")
    assert result.file_names == ["data/big.bin"]
    uploads = [r for r in embedded.recorder.requests if r.path.endswith("/upload")]
    assert len(uploads) == 6  # each chunk (under 1 MiB) in a request of its own, side by side
    listing = await kernel.list_files("data")
    assert [(e.filename, e.size) for e in listing.files] == [("big.bin", 5 << 20)]
    downloaded = await kernel.download(["data/big.bin"], tmp_path / "down")
    assert downloaded.file_names == ["big.bin"]
    assert await asyncio.to_thread(sha256_of, tmp_path / "down" / "big.bin") == digest
    # Too large for one archive: refused once, then fetched as seven pieces in two requests.
    downloads = [r for r in embedded.recorder.requests if r.path.endswith("/download")]
    assert len(downloads) == 3
    leftovers = await kernel.list_files("data")
    assert [e.filename for e in leftovers.files] == ["big.bin"]
    assert await asyncio.to_thread(os.listdir, tmp_path / "down") == ["big.bin"]


async def test_chunks_listed_first_leave_every_file_its_own_bytes(
    kernel: Kernel, tmp_path: Path
) -> None:
    """A large file's chunks go in requests of their own, after the whole files, whatever
    the order given: each file still arrives with its own content."""
    contents = {"a-big.bin": bytes(range(256)) * 20, **{f"s{i}.txt": b"%d\n" % i for i in range(5)}}
    for name, data in contents.items():
        (tmp_path / "up" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "up" / name).write_bytes(data)
    given = [tmp_path / "up" / name for name in contents]  # the chunked file first
    await upload(kernel, given, tmp_path / "up", file_limit=1024, files_per_request=8)
    await kernel.download(list(contents), tmp_path / "down")
    for name, data in contents.items():
        assert (tmp_path / "down" / name).read_bytes() == data, name


def make_project(root: Path) -> dict[str, str]:
    """A folder over the 1 MiB archive limit, with a file over it too: {path: sha256}."""
    sizes = {
        "proj/big.bin": (1 << 20) + 300_000,
        "proj/a.txt": 1000,
        "proj/sub/b.bin": 400_000,
        "proj/sub/c.txt": 10,
        "proj/sub/deeper/d.txt": 20,
    }
    digests = {}
    for rel, size in sizes.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        digests[rel] = write_random(root / rel, size)
    return digests


def local_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): (sha256_of(p) if p.is_file() else "dir") for p in root.rglob("*")
    }


async def put_project(kernel: Kernel, tmp_path: Path) -> dict[str, str]:
    up = tmp_path / "up"
    digests = await asyncio.to_thread(make_project, up)
    await kernel.upload([up / rel for rel in digests], basedir=up)
    results = await run(kernel, "", mode="batch", opts=BatchOptions(exec="mkdir proj/empty"))
    assert results[-1].exit_code == 0
    return digests


async def test_a_folder_over_the_archive_limit_comes_back_entry_by_entry(
    kernel: Kernel, embedded: Embedded, tmp_path: Path
) -> None:
    digests = await put_project(kernel, tmp_path)
    down = tmp_path / "down"
    result = await kernel.download(["proj"], down)
    dirs = {"proj", "proj/sub", "proj/sub/deeper", "proj/empty"}
    assert await asyncio.to_thread(local_tree, down) == {**digests, **dict.fromkeys(dirs, "dir")}
    assert sorted(result.file_names) == sorted({*digests, *dirs})
    # Refused whole; then proj's entries, big.bin in pieces; no staging or pieces left over.
    downloads = [r for r in embedded.recorder.requests if r.path.endswith("/download")]
    assert len(downloads) > 2
    assert not [p for p in await asyncio.to_thread(os.listdir, down) if p != "proj"]
    listing = await kernel.list_files("proj")
    assert sorted(e.filename for e in listing.files) == ["a.txt", "big.bin", "empty", "sub"]


async def test_a_folder_download_that_fails_midway_leaves_nothing(
    kernel: Kernel, tmp_path: Path
) -> None:
    await put_project(kernel, tmp_path)
    escape = BatchOptions(exec="ln -s /etc/hostname proj/sub/escape")
    assert (await run(kernel, "", mode="batch", opts=escape))[-1].exit_code == 0
    down = tmp_path / "down"
    down.mkdir()
    # a.txt and big.bin arrive before sub's archive, whose symlink points out: refused.
    with pytest.raises(TransferError, match="refusing symlink pointing outside"):
        await kernel.download(["proj"], down)
    assert await asyncio.to_thread(os.listdir, down) == []


async def test_too_many_files_in_one_request_is_refused(kernel: Kernel, tmp_path: Path) -> None:
    from bai_bridge.api.upload import upload

    files = await asyncio.to_thread(make_tree, tmp_path, 21)
    with pytest.raises(BackendInvalidParamsError):
        await upload(kernel, files, tmp_path, files_per_request=21)


async def test_a_few_small_files_are_planned_and_read_without_a_thread_hop(
    kernel: Kernel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bai_bridge.api import upload as upload_module

    hops: list[str] = []
    to_thread = asyncio.to_thread

    async def counted(fn: Any, *args: Any, **kwargs: Any) -> Any:
        if fn is upload_module._plan_and_read:  # (the embedded server's own hops aside)
            hops.append(fn.__name__)
        return await to_thread(fn, *args, **kwargs)

    monkeypatch.setattr(asyncio, "to_thread", counted)
    files = [tmp_path / f"f{i}.py" for i in range(upload_module.INLINE_FILES + 1)]
    for i, path in enumerate(files):
        path.write_text(f"N = {i}\n")
    await kernel.upload(files[:2], basedir=tmp_path)  # a save's few files
    assert hops == []
    await kernel.upload(files, basedir=tmp_path)
    assert hops == ["_plan_and_read"]
    await kernel.download([f.name for f in files], tmp_path / "down")
    assert [(tmp_path / "down" / f.name).read_text() for f in files] == [
        f.read_text() for f in files
    ]


async def test_a_staged_large_file_replaces_nothing_until_it_is_placed(
    kernel: Kernel, tmp_path: Path
) -> None:
    up = tmp_path / "up"
    (up / "data").mkdir(parents=True)
    (up / "data" / "big.bin").write_bytes(b"old")
    await kernel.upload([up / "data" / "big.bin"], basedir=up)
    new = await asyncio.to_thread(write_random, up / "data" / "big.bin", 3000)
    with pytest.raises(ValueError, match="small enough"):
        await stage_large(kernel, up / "data" / "big.bin", up)

    async def session_side() -> tuple[list[str], bytes]:
        listing = await kernel.list_files("data")
        await kernel.download(["data/big.bin"], tmp_path / "down")
        return sorted(e.filename for e in listing.files), (
            tmp_path / "down" / "big.bin"
        ).read_bytes()

    dropped = await stage_large(kernel, up / "data" / "big.bin", up, file_limit=1024)
    names, content = await session_side()
    assert content == b"old"  # the chunks are beside it, under hidden names
    assert sorted(n.split(".bai-part-")[0] for n in names) == [".big.bin"] * 3 + ["big.bin"]
    await dropped.discard()
    assert await session_side() == (["big.bin"], b"old")

    staged = await stage_large(kernel, up / "data" / "big.bin", up, file_limit=1024)
    await staged.place()
    names, content = await session_side()
    assert names == ["big.bin"]
    assert hashlib.sha256(content).hexdigest() == new


async def test_chunk_join_checks_the_checksum(kernel: Kernel) -> None:
    from bai_bridge.api.upload import ChunkedFile, _join

    results = await run(kernel, "", mode="batch", opts=BatchOptions(exec="printf abc > .p0"))
    assert results[-1].exit_code == 0
    bogus = ChunkedFile("joined.bin", "0" * 64, (".p0",))
    with pytest.raises(TransferError, match="checksum mismatch"):
        await _join(kernel, bogus)
    listing = await kernel.list_files(".")
    names = {e.filename for e in listing.files}
    assert "joined.bin" not in names
    assert ".p0" not in names  # the chunks are gone too
    assert not [n for n in names if ".bai-tmp-" in n]


async def test_stream_execute_with_input(kernel: Kernel) -> None:
    stream = await kernel.stream_execute("x = input('? ')\nprint('got', x)")
    async with asyncio.timeout(30), stream:
        results = []
        async for result in stream:
            results.append(result)
            if result.status == "waiting-input":
                await stream.send_input("ws-input")
    assert results[-1].status == "finished"
    assert "got ws-input" in stdout(results)


async def test_stream_execute_batch(kernel: Kernel) -> None:
    stream = await kernel.stream_execute(mode="batch", opts={"exec": "echo streamed"})
    async with asyncio.timeout(30), stream:
        results = [r async for r in stream]
    assert results[-1].status == "finished"
    assert "streamed" in stdout(results)


async def read_until(pty: object, needle: bytes) -> bytes:
    seen = b""
    async with asyncio.timeout(20):
        while needle not in seen:
            chunk = await pty.receive()  # type: ignore[attr-defined]
            assert chunk is not None, f"terminal closed before {needle!r}; got {seen!r}"
            seen += chunk
    return seen


async def test_stream_pty_echo_resize_restart(kernel: Kernel) -> None:
    pty = await kernel.stream_pty()
    async with pty:
        await pty.send("echo pty-$((40+2))\n")
        await read_until(pty, b"pty-42")
        await pty.resize(33, 101)
        await pty.send("stty size\n")
        await read_until(pty, b"33 101")
        await pty.ping()
        await pty.send("export MARK=before-restart\n")
        await pty.restart()
        await pty.send("echo after-$((1+1))-${MARK:-gone}\n")
        await read_until(pty, b"after-2-gone")  # a fresh shell answers on the same stream
    assert pty.closed


async def test_stream_pty_in_async_with_closes_on_exit(kernel: Kernel) -> None:
    async with kernel.stream_pty() as pty:
        await pty.send("echo ctx-$((6*7))\n")
        await read_until(pty, b"ctx-42")
        assert not pty.closed
    assert pty.closed


async def watch_termination(
    kernel: Kernel, events: EventStream, connected: asyncio.Event
) -> list[str]:
    """Destroy ``kernel`` once ``events`` is subscribed; the event names up to termination."""
    names: list[str] = []

    async def collect() -> None:
        async for event in events:
            names.append(event.name)
            if event.name.endswith("terminated"):
                return

    task = asyncio.create_task(collect())
    try:
        async with asyncio.timeout(20):
            await connected.wait()  # subscribed: the termination cannot be missed
        await kernel.destroy()
        async with asyncio.timeout(20):
            await task
    finally:
        task.cancel()
    return names


async def test_stream_events_sees_termination(api: APISession) -> None:
    kernel = await api.Kernel.get_or_create("python")
    connected = asyncio.Event()
    events = await kernel.stream_events(on_connect=connected.set)  # the seed's way
    try:
        names = await watch_termination(kernel, events, connected)
    finally:
        await events.close()
    assert any(name.endswith("terminated") for name in names)


async def test_stream_events_in_async_with_closes_on_exit(api: APISession) -> None:
    kernel = await api.Kernel.get_or_create("python")
    connected = asyncio.Event()
    async with kernel.stream_events(on_connect=connected.set) as events:  # today's way
        names = await watch_termination(kernel, events, connected)
    assert any(name.endswith("terminated") for name in names)
    with pytest.raises(StopAsyncIteration):  # closed: no reconnect, no further events
        await anext(aiter(events))


async def test_stream_execute_in_async_with_answers_input_and_closes(kernel: Kernel) -> None:
    async with asyncio.timeout(30), kernel.stream_execute("print('got', input('? '))") as stream:
        results = []
        async for result in stream:
            results.append(result)
            if result.status == "waiting-input":
                await stream.send_input("ctx-input")
    assert results[-1].status == "finished"
    assert "got ctx-input" in stdout(results)
    assert stream.closed


async def test_stream_execute_in_async_with_closes_on_error(kernel: Kernel) -> None:
    opened: list[ExecuteStream] = []

    async def fail_inside() -> None:
        async with kernel.stream_execute("print(1)") as stream:
            opened.append(stream)
            assert not stream.closed
            raise LookupError("the caller's own error")

    with pytest.raises(LookupError):
        await fail_inside()
    assert opened[0].closed


async def test_errors_are_mapped(api: APISession, embedded: Embedded) -> None:
    ghost = api.Kernel("no-such-session")
    with pytest.raises(BackendNotFoundError) as not_found:
        await ghost.get_info()
    assert not_found.value.status == 404
    with pytest.raises(BackendNotFoundError):
        await api.Kernel.get_or_create("no-such-image-anywhere")
    with pytest.raises(ValueError, match="invalid session name"):
        await api.Kernel.get_or_create("python", client_token="x")
    wrong = embedded.client(str(api.api_version))
    import attrs

    async with APISession(attrs.evolve(wrong, secret_key="wrong")) as bad:
        with pytest.raises(BackendAuthError) as auth:
            await bad.Kernel("whatever").get_info()
    assert auth.value.status == 401
