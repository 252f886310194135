"""One Jupyter kernel process and its channels.

Replies and output of every request are routed by the request's message id to the caller's
sink, as they arrive, so several calls (a run, a completion through a subshell) share one
kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import zmq
from jupyter_client.adapter import adapt
from jupyter_client.manager import AsyncKernelManager

from bai_bridge.scratch import make_scratch_dir

log = logging.getLogger(__name__)

Message = dict[str, Any]

# The kernel's default completer runs jedi's static analysis (75-300 ms, seconds on first
# use); the plain runtime completer answers in a few milliseconds with live names.
# (ipykernel's older completion API would skip the per-match type metadata, but it enters
# IPython's builtin trap, which is not thread-safe: from a subshell during a run it broke
# the run. The experimental API used by default does not touch it.)
_SETUP_CODE = "get_ipython().Completer.use_jedi = False"
_START_TIMEOUT = 60.0
# A Unix socket path holds at most 107 bytes; a kernel's channels are "<prefix>-<n>".
_MAX_IPC_PREFIX = 100


def parse_message(session: Any, frames: list[bytes]) -> Message:
    """A signed Jupyter wire message as a dict, its dates left as text (jupyter_client
    parses each with dateutil; routing never reads them)."""
    _, parts = session.feed_identities(frames, copy=True)
    if len(parts) < 5:
        raise ValueError("too few frames")
    if session.auth is not None and not hmac.compare_digest(parts[0], session.sign(parts[1:5])):
        raise ValueError("invalid signature")
    header = json.loads(parts[1])
    message = {
        "header": header,
        "msg_id": header.get("msg_id"),
        "msg_type": header.get("msg_type"),
        "parent_header": json.loads(parts[2]),
        "metadata": json.loads(parts[3]),
        "content": json.loads(parts[4]),
        "buffers": parts[5:],
    }
    return adapt(message)  # to the current protocol version, as jupyter_client does


class KernelDied(Exception):
    """The kernel process ended while a request was waiting on it."""

    def __init__(self, exit_code: int) -> None:
        super().__init__(f"kernel died (exit code {exit_code})")
        self.exit_code = exit_code


@attrs.frozen
class Routed:
    """A message addressed to a waiting request; ``channel`` is shell, iopub, stdin, control."""

    channel: str
    msg: Message


# Where a request's replies and output go, as they arrive.
Sink = Callable[[Routed | KernelDied], None]


@attrs.frozen
class KernelStart:
    kernel_name: str
    cwd: Path
    env: Mapping[str, str]
    connection_file: Path
    log_file: Path
    # A subshell answers completions during a run; a cluster's kernel has none.
    subshell: bool = True


def full_tokens(code: str, cursor_pos: int, reply: Mapping[str, Any]) -> list[str]:
    """Matches as whole dotted tokens (``df.keys``), the way Backend.AI's runner answers.

    ipykernel's plain completer answers only what replaces ``code[cursor_start:cursor_end]``
    (``.keys`` at the dot of ``df.ke``); the dotted expression before that is put back.
    """
    matches = [str(m) for m in reply.get("matches", [])]
    start = reply.get("cursor_start")
    if not isinstance(start, int) or not 0 <= start <= min(cursor_pos, len(code)):
        return matches  # no usable span: nothing to put back
    head_start = start
    while head_start > 0 and (code[head_start - 1].isalnum() or code[head_start - 1] in "_."):
        head_start -= 1
    head = code[head_start:start]
    tokens = [head + m for m in matches]
    # Nothing to put back (``f().ba``): the segment alone is the word being replaced.
    return tokens if head else [t.removeprefix(".") for t in tokens]


def cursor_line(code: str, cursor_pos: int) -> tuple[str, int]:
    """The line holding the cursor, and the cursor's offset in it: what the kernel completes.

    Like Backend.AI's runner, which completes only the current line. Given more, IPython 9
    evaluates every earlier line statically first ("limited" guarded eval), which costs
    milliseconds per completion and grows with the file, and then completes an inferred
    stand-in instead of the live object (a DataFrame's columns were missing).
    """
    cursor_pos = max(0, min(cursor_pos, len(code)))
    start = code.rfind("\n", 0, cursor_pos) + 1
    end = code.find("\n", cursor_pos)
    return code[start : len(code) if end < 0 else end], cursor_pos - start


def use_unix_sockets(km: AsyncKernelManager) -> Path | None:
    """Put an ipykernel's channels on Unix sockets in a fresh private directory, before it starts.

    Only this user can reach them (loopback TCP ports are open to every local user, the HMAC
    on each message aside), and each message costs less than over loopback TCP. Kernels of
    other languages keep TCP: not every kernel takes the ipc transport. Returns the directory,
    to remove once the kernel is gone, or None for TCP.
    """
    kernel_spec = km.kernel_spec
    if kernel_spec is None or kernel_spec.language.lower() != "python":
        return None
    directory = make_scratch_dir("kernel")  # mode 0700
    prefix = str(directory / "channel")
    if len(prefix) > _MAX_IPC_PREFIX:  # a very long TMPDIR
        directory.rmdir()
        return None
    km.transport = "ipc"
    km.ip = prefix
    return directory


def exit_code_of(returncode: int | None) -> int:
    """A process status as a shell reports it (128 + signal number when killed)."""
    if returncode is None:
        return 1
    return 128 - returncode if returncode < 0 else returncode


async def wait_for_exit(pid: int) -> None:
    """Wait until a child process exits, without reaping it (a pidfd becomes readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not exited.done():
            exited.set_result(None)

    loop.add_reader(fd, readable)
    try:
        await exited
    finally:
        loop.remove_reader(fd)
        os.close(fd)


class JupyterKernel:
    """A started kernel: execute, input, complete (through a subshell), interrupt, shutdown."""

    def __init__(self, manager: AsyncKernelManager, socket_dir: Path | None = None) -> None:
        self._km = manager
        self._socket_dir = socket_dir
        # No receive limit: at the default high-water mark a subscriber that falls behind (two
        # busy cores, a chatty run) has iopub messages dropped, output and idle status alike.
        manager.context.setsockopt(zmq.RCVHWM, 0)
        self._client = manager.client()
        self._routes: dict[str, Sink] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._subshell_id: str | None = None
        self._senders: dict[str, zmq.Socket[bytes]] = {}
        self._listeners: dict[str, zmq.Socket[bytes]] = {}
        self.exit_code: int | None = None
        self.dead = asyncio.Event()

    @classmethod
    async def start(cls, spec: KernelStart) -> JupyterKernel:
        km = AsyncKernelManager(kernel_name=spec.kernel_name)
        km.connection_file = str(spec.connection_file)
        socket_dir = None
        try:
            socket_dir = use_unix_sockets(km)
            with spec.log_file.open("ab") as log_out:
                await km.start_kernel(
                    cwd=str(spec.cwd), env=dict(spec.env), stdout=log_out, stderr=subprocess.STDOUT
                )
        except BaseException:  # failed or cancelled: whatever was launched must not survive
            with contextlib.suppress(Exception):
                await km.shutdown_kernel(now=True)
            _remove(socket_dir)
            raise
        kernel = cls(km, socket_dir)
        try:
            await kernel._connect(subshell=spec.subshell)
        except BaseException:
            await kernel.shutdown()
            raise
        return kernel

    async def _connect(self, *, subshell: bool) -> None:
        self._client.start_channels()
        # Plain views of the asyncio sockets, to send with: Session.send makes one per call.
        for channel in ("shell", "control", "stdin"):
            socket = getattr(self._client, f"{channel}_channel").socket
            self._senders[channel] = zmq.Socket.shadow(socket.underlying)
        await self._client.wait_for_ready(timeout=_START_TIMEOUT)
        for channel in ("shell", "iopub", "stdin", "control"):
            self._listen(channel)
        self._tasks.append(asyncio.create_task(self._watch()))
        await self.run_silently(_SETUP_CODE)
        if subshell:
            self._subshell_id = await self._create_subshell()

    @property
    def pid(self) -> int | None:
        process = getattr(self._km.provisioner, "process", None)
        return None if process is None else int(process.pid)

    @property
    def alive(self) -> bool:
        return not self.dead.is_set()

    # -- routing ----------------------------------------------------------------------------

    def _listen(self, channel: str) -> None:
        """Route the channel's messages as soon as its socket signals them, straight from the
        socket: no reader task and receive future per message, nor jupyter_client's
        poll-then-receive and dateutil parsing of every date (routing needs none of that)."""
        socket: zmq.Socket[bytes] = zmq.Socket.shadow(
            getattr(self._client, f"{channel}_channel").socket.underlying
        )
        self._listeners[channel] = socket
        loop = asyncio.get_running_loop()
        loop.add_reader(socket.fileno(), self._drain, channel)
        loop.call_soon(self._drain, channel)  # what came before: the descriptor signals edges

    def _drain(self, channel: str) -> None:
        socket = self._listeners[channel]
        try:
            while int(socket.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                self._deliver(channel, socket.recv_multipart(zmq.NOBLOCK))
        except zmq.ZMQError as e:  # closed under us: the kernel is being shut down
            log.debug("stopped reading %s: %s", channel, e)

    def _deliver(self, channel: str, frames: list[bytes]) -> None:
        try:
            msg = parse_message(self._client.session, frames)
        except ValueError as e:
            log.warning("dropped a kernel message on %s: %s", channel, e)
            return
        parent = msg["parent_header"].get("msg_id")
        sink = self._routes.get(parent) if parent else None
        if sink is None:
            return
        try:
            sink(Routed(channel, msg))
        except Exception:  # one request's failure must not stop the kernel's other messages
            log.exception("handling a kernel message on %s failed", channel)

    def _stop_listening(self) -> None:
        loop = asyncio.get_running_loop()
        for socket in self._listeners.values():
            with contextlib.suppress(zmq.ZMQError):
                loop.remove_reader(socket.fileno())
        self._listeners.clear()

    async def _watch(self) -> None:
        process = getattr(self._km.provisioner, "process", None)
        if process is not None and hasattr(os, "pidfd_open"):
            await wait_for_exit(process.pid)
        elif process is not None:  # no pidfd (not Linux): a thread waits instead
            await asyncio.to_thread(process.wait)
        self.exit_code = exit_code_of(None if process is None else process.poll())
        self.dead.set()
        for sink in list(self._routes.values()):
            sink(KernelDied(self.exit_code))
        log.info("kernel %s ended with exit code %s", self._km.kernel_id, self.exit_code)

    def _route(self, msg: Message, sink: Sink) -> None:
        self._routes[msg["header"]["msg_id"]] = sink
        if self.dead.is_set():
            sink(KernelDied(self.exit_code or 1))

    def forget(self, msg_id: str) -> None:
        self._routes.pop(msg_id, None)

    # -- requests ---------------------------------------------------------------------------

    def execute(self, code: str, sink: Sink, silent: bool = False) -> str:
        """Send an execute request; its replies and output go to ``sink`` as they arrive, until
        `forget` is called with the message id returned. ``silent``: no history entry, no
        execution count, no displayed result (printed output still comes)."""
        content = {
            "code": code,
            "silent": silent,
            "store_history": not silent,
            "user_expressions": {},
            "allow_stdin": True,
            "stop_on_error": False,
        }
        msg = self._client.session.msg("execute_request", content)
        self._route(msg, sink)
        self._send("shell", msg)
        return str(msg["header"]["msg_id"])

    def _send(self, channel: str, msg: Message) -> None:
        """Sign and send a request (what Session.send does, less its per-call work)."""
        self._senders[channel].send_multipart(self._client.session.serialize(msg))
        # A send may take the socket's readable edge for a reply already in: look now.
        asyncio.get_running_loop().call_soon(self._drain, channel)

    def send_input(self, value: str) -> None:
        self._send("stdin", self._client.session.msg("input_reply", {"value": value}))

    async def run_silently(self, code: str) -> None:
        content = {"code": code, "silent": True, "store_history": False, "allow_stdin": False}
        msg = self._client.session.msg("execute_request", content)
        await self._request("shell", msg, "execute_reply")

    async def complete(self, code: str, cursor_pos: int) -> list[str]:
        line, cursor = cursor_line(code, cursor_pos)
        msg = self._client.session.msg("complete_request", {"code": line, "cursor_pos": cursor})
        if self._subshell_id is not None:
            # A subshell answers while the main shell is busy with a run (JEP 91).
            msg["header"]["subshell_id"] = self._subshell_id
        reply = await self._request("shell", msg, "complete_reply")
        return full_tokens(line, cursor, reply["content"])

    async def _create_subshell(self) -> str | None:
        msg = self._client.session.msg("create_subshell_request", {})
        try:
            reply = await asyncio.wait_for(
                self._request("control", msg, "create_subshell_reply"), 10
            )
        except TimeoutError:
            log.warning("kernel did not create a subshell; completions wait behind runs")
            return None
        subshell = reply["content"].get("subshell_id")
        return str(subshell) if subshell else None

    async def _request(self, channel: str, msg: Message, reply_type: str) -> Message:
        reply: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

        def sink(item: Routed | KernelDied) -> None:
            if reply.done():
                return
            if isinstance(item, KernelDied):
                reply.set_exception(item)
            elif item.msg["header"]["msg_type"] == reply_type:
                reply.set_result(item.msg)

        self._route(msg, sink)
        try:
            self._send(channel, msg)
            return await reply
        finally:
            self.forget(msg["header"]["msg_id"])

    async def interrupt(self) -> None:
        if self.alive:
            await self._km.interrupt_kernel()

    def kill_group(self) -> None:
        """Last resort: kill the kernel and anything it started."""
        pid = self.pid
        if pid is not None and self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)

    async def shutdown(self, *, now: bool = False) -> None:
        try:
            self._stop_listening()
            self._client.stop_channels()
            if await self._km.is_alive():
                await asyncio.wait_for(self._km.shutdown_kernel(now=now), 10)
        except Exception:
            log.exception("kernel shutdown failed; killing it")
            self.kill_group()
            with contextlib.suppress(Exception):
                await self._km.shutdown_kernel(now=True)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            self.dead.set()
            # Now, also for a kernel that had died: left to the manager's __del__, whenever
            # it is collected, the cleanup deletes the connection file the session's next
            # kernel wrote at the same path, maybe before that kernel has read it.
            try:
                with contextlib.suppress(Exception):
                    await self._km.cleanup_resources()
            finally:
                _remove(self._socket_dir)


def _remove(directory: Path | None) -> None:
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
