"""Sessions with real Jupyter kernels: create/reuse, the run loop (§4), input, FIFO,
interrupt, restart, a kernel killed mid-run, batch mode, many sessions, destroy."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import stat
import time
from typing import Any

from bai_bridge.local.context import CONTEXT
from bai_bridge.local.serve import RunningServer
from serverkit import SignedClient, open_stream, read_events, text_of

IMAGE = "cr.backend.ai/stable/python:3.9-ubuntu20.04"


async def test_create_reuse_and_conflicts(client: SignedClient) -> None:
    first = await client.request(
        "POST",
        "/session",
        json_body={"name": "reuse-me", "image": IMAGE, "config": {"environ": {"GREETING": "hej"}}},
    )
    assert first.status == 201
    created = first.json()
    assert set(created) == {"sessionId", "sessionName", "status", "servicePorts", "created"}
    assert (created["status"], created["created"], created["sessionName"]) == (
        "RUNNING",
        True,
        "reuse-me",
    )
    again = await client.request("POST", "/session", json_body={"name": "reuse-me", "image": IMAGE})
    assert again.status == 200
    assert again.json() == {**created, "created": False, "service_ports": []}
    conflict = await client.request(
        "POST", "/session", json_body={"name": "reuse-me", "image": IMAGE, "reuseIfExists": False}
    )
    assert (conflict.status, conflict.problem_type) == (400, "session-already-exists")
    assert conflict.json()["data"]["existingSessionId"] == created["sessionId"]
    other_image = await client.request(
        "POST", "/session", json_body={"name": "reuse-me", "image": "python:3.11"}
    )
    assert other_image.status == 400
    # v4 names the session by its token and answers with kernelId.
    v4 = await client.request(
        "POST",
        "/kernel/create",
        json_body={"clientSessionToken": "reuse-me", "image": IMAGE},
        version="v4.20190615",
    )
    assert v4.json() == {
        "kernelId": "reuse-me",
        "status": "RUNNING",
        "service_ports": [],
        "created": False,
    }
    # Prefix lookup by UUID and by name; environ reached the kernel.
    run = await client.run(
        created["sessionId"][:8], "import os; print(os.environ['GREETING'], os.getcwd())"
    )
    out = text_of(run["console"])
    assert out.startswith("hej ")
    assert out.strip().endswith("/work")
    info = (await client.request("GET", "/session/reuse")).json()
    assert info["status"] == "RUNNING"
    assert info["numQueriesExecuted"] == 1
    destroyed = await client.request("DELETE", "/session/reuse-me")
    assert destroyed.status == 200
    assert destroyed.json()["stats"]["status"] == "terminated"
    assert (await client.request("GET", "/session/reuse-me")).status == 404


async def test_run_loop_continued_input_and_media(client: SignedClient) -> None:
    await client.create("loop-sess", IMAGE)
    started = time.monotonic()
    run = await client.run(
        "loop-sess", "import time\nprint('a', flush=True)\ntime.sleep(2.6)\nprint('b')"
    )
    assert run["statuses"][0] == "continued"
    assert run["statuses"][-1] == "finished"
    assert text_of(run["console"]) == "a\nb\n"
    assert time.monotonic() - started >= 2.0
    # Consecutive same-stream items are merged, the order of streams is kept.
    run = await client.run(
        "loop-sess",
        "import sys\nprint(1)\nprint(2, flush=True)\n"
        "print(3, file=sys.stderr, flush=True)\nprint(4)",
    )
    assert run["console"] == [["stdout", "1\n2\n"], ["stderr", "3\n"], ["stdout", "4\n"]]
    # HTML and SVG display data.
    run = await client.run(
        "loop-sess",
        "from IPython.display import HTML, SVG, display\ndisplay(HTML('<b>x</b>'))\n"
        "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\"/>'))",
    )
    kinds = [item[0] for item in run["console"]]
    assert kinds == ["html", "media"]
    assert run["console"][1][1][0] == "image/svg+xml"
    # input() and getpass() go through waiting-input.
    reply = await client.request(
        "POST",
        "/session/loop-sess",
        json_body={
            "mode": "query",
            "code": "import getpass\nname = input('who? ')\npw = getpass.getpass('pw: ')\n"
            "print('hi', name, len(pw))",
            "runId": None,
        },
    )
    result = reply.json()["result"]
    assert (result["status"], result["options"]) == ("waiting-input", {"is_password": False})
    assert text_of(result["console"]) == "who? "
    run_id = result["runId"]
    reply = await client.request(
        "POST", "/session/loop-sess", json_body={"mode": "input", "code": "ada", "runId": run_id}
    )
    result = reply.json()["result"]
    assert (result["status"], result["options"]) == ("waiting-input", {"is_password": True})
    reply = await client.request(
        "POST", "/session/loop-sess", json_body={"mode": "input", "code": "secret", "runId": run_id}
    )
    result = reply.json()["result"]
    assert (result["status"], result["exitCode"]) == ("finished", 0)
    assert "hi ada 6" in text_of(result["console"])


async def test_exception_is_on_stderr_and_exit_code_zero(client: SignedClient) -> None:
    await client.create("exc-sess", IMAGE)
    run = await client.run("exc-sess", "1/0")
    assert run["result"]["exitCode"] == 0
    assert "ZeroDivisionError" in text_of(run["console"], "stderr")


async def test_runs_of_one_session_are_fifo(client: SignedClient) -> None:
    await client.create("fifo-sess", IMAGE)
    path = "/stream/session/fifo-sess/execute"
    ws = await client.session.ws_connect(client.endpoint + path, headers=client.ws_headers(path))
    code = "import time\norder = ['first']\nprint('started', flush=True)\ntime.sleep(1.0)\n"
    await ws.send_json({"code": code + "order.append('first-done')", "mode": "query"})
    async for msg in ws:  # the first run is surely active once its output arrives
        if "started" in msg.data:
            break
    second = await client.run("fifo-sess", "order.append('second'); print(order)")
    assert second["console"] == [["stdout", "['first', 'first-done', 'second']\n"]]
    frames = [json.loads(msg.data) async for msg in ws]
    await ws.close()
    assert frames[-1]["status"] == "finished"


async def test_interrupt_and_restart_keep_the_work_dir(client: SignedClient) -> None:
    await client.create("intr-sess", IMAGE)
    await client.run("intr-sess", "open('kept.txt', 'w').write('still here')")
    reply = await client.request(
        "POST",
        "/session/intr-sess",
        json_body={"mode": "query", "code": "while True: pass", "runId": None},
    )
    run_id = reply.json()["result"]["runId"]
    assert (await client.request("POST", "/session/intr-sess/interrupt")).status == 204
    result = reply.json()["result"]
    while result["status"] != "finished":
        reply = await client.request(
            "POST",
            "/session/intr-sess",
            json_body={"mode": "continue", "code": "", "runId": run_id},
        )
        result = reply.json()["result"]
    assert "KeyboardInterrupt" in text_of(result["console"], "stderr")
    await client.run("intr-sess", "forgotten = 1")
    assert (await client.request("PATCH", "/session/intr-sess")).status == 204
    run = await client.run("intr-sess", "print(open('kept.txt').read(), 'forgotten' in globals())")
    assert text_of(run["console"]).strip() == "still here False"


async def test_kernel_killed_mid_run_ends_the_run_and_restart_recovers(
    client: SignedClient,
) -> None:
    await client.create("kill-sess", IMAGE)
    reply = await client.request(
        "POST",
        "/session/kill-sess",
        json_body={
            "mode": "query",
            "code": "import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)",
            "runId": None,
        },
    )
    result = reply.json()["result"]
    assert result["status"] == "continued"
    pid = int(text_of(result["console"]).split()[0])
    os.kill(pid, signal.SIGKILL)
    while result["status"] != "finished":
        reply = await client.request(
            "POST",
            "/session/kill-sess",
            json_body={"mode": "continue", "code": "", "runId": result["runId"]},
        )
        result = reply.json()["result"]
    assert result["exitCode"] == 128 + signal.SIGKILL
    assert "kernel died" in text_of(result["console"], "stderr")
    info = (await client.request("GET", "/session/kill-sess")).json()
    assert info["status"] == "ERROR"
    refused = await client.request(
        "POST", "/session/kill-sess", json_body={"mode": "query", "code": "1", "runId": None}
    )
    assert refused.status == 500
    assert (await client.request("PATCH", "/session/kill-sess")).status == 204
    run = await client.run("kill-sess", "import os; print(6 * 7, os.getpid())")
    answer, new_pid = text_of(run["console"]).split()
    assert answer == "42"
    # Killed again, idle: the event stream says so, and get-or-create heals the session.
    stream = await open_stream(client, "/events/session?sessionName=kill-sess")
    try:
        os.kill(int(new_pid), signal.SIGKILL)
        events = await asyncio.wait_for(read_events(stream, "kernel_terminated"), 30)
    finally:
        stream.close()
    assert events[-1]["data"]["reason"] == "self-terminated"
    reused = await client.request(
        "POST", "/session", json_body={"name": "kill-sess", "image": IMAGE}
    )
    assert (reused.status, reused.json()["status"]) == (200, "RUNNING")
    run = await client.run("kill-sess", "print('healed')")
    assert text_of(run["console"]) == "healed\n"


async def test_batch_mode_steps_and_exit_codes(client: SignedClient) -> None:
    await client.create("batch-sess", IMAGE)
    options = {
        "clean": "echo cleaning; rm -f out.txt",
        "build": "echo building > out.txt",
        "exec": "cat out.txt; echo oops >&2; exit 3",
        "buildLog": False,
    }
    run = await client.run("batch-sess", "", mode="batch", options=options)
    assert run["statuses"] == ["clean-finished", "build-finished", "finished"]
    assert run["result"]["exitCode"] == 3
    assert text_of(run["console"]) == "cleaning\nbuilding\n"
    assert text_of(run["console"], "stderr") == "oops\n"
    failing = {"clean": None, "build": "exit 2", "exec": "echo never", "buildLog": False}
    run = await client.run("batch-sess", "", mode="batch", options=failing)
    assert run["statuses"] == ["clean-finished", "build-finished", "finished"]
    assert run["result"]["exitCode"] == 127
    assert "never" not in text_of(run["console"])


async def test_many_sessions_have_their_own_work_dirs(client: SignedClient) -> None:
    await asyncio.gather(client.create("multi-one", IMAGE), client.create("multi-two", IMAGE))
    one, two = await asyncio.gather(
        client.run("multi-one", "import os; open('mine.txt','w').write('one'); print(os.getcwd())"),
        client.run("multi-two", "import os; print(os.getcwd(), os.path.exists('mine.txt'))"),
    )
    ambiguous = await client.request("GET", "/session/multi-")
    assert (ambiguous.status, ambiguous.problem_type) == (404, "too-many-sessions-matched")
    matches = ambiguous.json()["data"]["matches"]
    assert sorted(m["name"] for m in matches) == ["multi-one", "multi-two"]
    assert {m["status"] for m in matches} == {"RUNNING"}
    cwd_one = text_of(one["console"]).strip()
    cwd_two, exists = text_of(two["console"]).split()
    assert cwd_one != cwd_two
    assert exists == "False"
    assert oct(os.stat(cwd_one).st_mode & 0o777) == "0o700"
    session_dir = os.path.dirname(cwd_one)
    assert oct(os.stat(session_dir).st_mode & 0o777) == "0o700"
    # The kernel's connection file holds its HMAC key: readable by the user only.
    assert oct(os.stat(os.path.join(session_dir, "kernel.json")).st_mode & 0o777) == "0o600"


def kernel_connection(session_dir: str) -> dict[str, Any]:
    with open(os.path.join(session_dir, "kernel.json")) as connection_file:
        connection: dict[str, Any] = json.load(connection_file)
    return connection


def exists(path: str) -> bool:
    return os.path.exists(path)


async def test_a_python_kernel_is_reached_over_private_unix_sockets(client: SignedClient) -> None:
    await client.create("ipc-sess", IMAGE)
    run = await client.run("ipc-sess", "import os; print(os.getcwd())")
    connection = kernel_connection(os.path.dirname(text_of(run["console"]).strip()))
    assert connection["transport"] == "ipc"
    socket_dir = os.path.dirname(connection["ip"])
    assert oct(os.stat(socket_dir).st_mode & 0o777) == "0o700"
    for channel in ("shell", "iopub", "stdin", "control", "hb"):
        assert stat.S_ISSOCK(os.stat(f"{connection['ip']}-{connection[channel + '_port']}").st_mode)
    assert (await client.request("DELETE", "/session/ipc-sess")).status == 200
    assert not exists(socket_dir)


async def test_batch_session_runs_its_startup_command(
    client: SignedClient, local_server: RunningServer
) -> None:
    body = {
        "name": "batch-type",
        "image": IMAGE,
        "type": "batch",
        "startupCommand": "echo started > results/started.txt; pwd > results/cwd.txt; "
        "echo batch-said-hello",
        "config": {"mounts": ["results"]},
    }
    stream = await open_stream(client, "/events/session?sessionName=batch-type")
    try:
        reply = await client.request("POST", "/session", json_body=body)
        assert reply.status == 201
        session_id = reply.json()["sessionId"]
        events = await asyncio.wait_for(read_events(stream, "session_terminated"), 30)
    finally:
        stream.close()
    names = [e["event"] for e in events]
    assert names.index("session_started") < names.index("session_success")
    assert events[-1]["data"]["reason"] == "self-terminated"
    assert (await client.request("GET", "/session/batch-type")).status == 404
    # As a manager does from its database, the ended session's console log still answers.
    for sid in ("batch-type", session_id[:8]):
        logs = await client.request("GET", f"/session/{sid}/logs")
        assert "batch-said-hello" in logs.json()["result"]["logs"]
    assert (await client.request("GET", "/session/batch-typo/logs")).status == 404
    # The mounted vfolder outlives the session; its scratch work dir does not.
    data_dir = local_server.app[CONTEXT].config.data_dir
    results = data_dir / "vfolders" / "results"
    assert (results / "started.txt").read_text() == "started\n"
    work_dir = data_dir / "sessions" / session_id / "work"
    assert (results / "cwd.txt").read_text().strip() == str(work_dir)
    assert not work_dir.exists()


async def test_enqueue_only_answers_pending(client: SignedClient) -> None:
    stream = await open_stream(client, "/events/session?sessionName=queued-sess")
    try:
        reply = await client.request(
            "POST",
            "/session",
            json_body={
                "name": "queued-sess",
                "image": IMAGE,
                "enqueueOnly": True,
                "bootstrap_script": base64.b64encode(b"echo booted > boot.txt").decode(),
            },
        )
        assert (reply.status, reply.json()["status"]) == (201, "PENDING")
        events = await asyncio.wait_for(read_events(stream, "session_started"), 30)
    finally:
        stream.close()
    assert events[0]["event"] == "session_enqueued"
    assert (await client.request("GET", "/session/queued-sess")).json()["status"] == "RUNNING"
    run = await client.run("queued-sess", "print(open('boot.txt').read())")
    assert text_of(run["console"]) == "booted\n\n"
