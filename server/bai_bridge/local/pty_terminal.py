"""A real pseudo-terminal running the user's interactive shell.

The master side is non-blocking and driven by the event loop (`add_reader`/`add_writer`).
The shell is a session leader with the pty as its controlling terminal, so job control,
``stty size`` and SIGWINCH behave as in any terminal emulator. `close()` hangs the session
up and then kills whatever of it is left, so no process outlives the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import logging
import os
import signal
import struct
import termios
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bai_bridge.local.pty_output import Scrollback, TerminalOutput

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
_HANGUP_GRACE = 1.0
_DRAIN_GRACE = 0.1
_TERM_GRACE = 1.0


class TerminalClosed(Exception):
    """Input for a terminal whose shell has gone."""


class Terminal:
    """A shell on a pseudo-terminal; `read()` for one consumer, `attach()` for many."""

    def __init__(self, process: asyncio.subprocess.Process, master_fd: int) -> None:
        self._process = process
        self._fd = master_fd
        self._exited = asyncio.ensure_future(process.wait())
        self._viewers: set[TerminalOutput] = set()
        self.scrollback = Scrollback()  # read while nobody views it too: replayed on attach
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        # Waits on the descriptor in progress: close() ends them before closing it, so no
        # one unregisters a descriptor number that may already belong to someone else.
        self._waits: set[asyncio.Future[None]] = set()
        self._no_waits = asyncio.Event()
        self._no_waits.set()
        self._write_lock = asyncio.Lock()  # one write at a time: one writer callback per fd

    @classmethod
    async def spawn(
        cls,
        cwd: Path,
        env: Mapping[str, str],
        rows: int = 24,
        cols: int = 80,
        *,
        bash_rc: Path | None = None,
    ) -> Terminal:
        """The shell in ``cwd``; ``bash_rc``: the rc file bash reads instead of ~/.bashrc."""
        shell = _shell(env)
        rc = ["--rcfile", str(bash_rc)] if bash_rc and Path(shell).name == "bash" else []
        master, slave = os.openpty()
        try:
            _set_size(slave, rows, cols)
            process = await asyncio.create_subprocess_exec(
                shell,
                *rc,
                "-i",
                stdin=slave,
                stdout=slave,
                stderr=slave,
                cwd=cwd,
                env={**env, "TERM": "xterm-256color"},
                start_new_session=True,
                preexec_fn=_take_controlling_terminal,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        return cls(process, master)

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def alive(self) -> bool:
        return not self._closed and self._process.returncode is None

    async def read(self) -> bytes:
        """What the terminal has written (up to 64 KiB at once); b"" once it has ended."""
        chunks: list[bytes] = []
        size = 0
        while size < READ_SIZE and not self._closed:
            try:
                data = os.read(self._fd, READ_SIZE - size)
            except BlockingIOError:
                if chunks or not await self._more_output():
                    break
                continue
            except OSError as e:  # EIO: every slave side is closed
                if e.errno != errno.EIO:
                    raise
                data = b""
            if not data:
                break
            chunks.append(data)
            size += len(data)
        return b"".join(chunks)

    async def write(self, data: bytes) -> None:
        """Send `data` to the shell's input, waiting while the terminal's input is full."""
        async with self._write_lock:
            await self._write(memoryview(data))

    async def _write(self, view: memoryview) -> None:
        while view:
            if not self.alive:
                raise TerminalClosed("the terminal's shell has exited")
            try:
                view = view[os.write(self._fd, view) :]
            except BlockingIOError:  # the shell is not reading its input yet
                await self._ready(self._loop.add_writer, self._loop.remove_writer)
            except OSError as e:
                raise TerminalClosed(str(e)) from e

    def resize(self, rows: int, cols: int) -> None:
        """Set the window size; the kernel sends SIGWINCH to the foreground job."""
        if not self._closed:
            _set_size(self._fd, rows, cols)

    def attach(self) -> TerminalOutput:
        """A new viewer of everything written from now on; pair it with `detach`."""
        viewer = TerminalOutput()
        if self._closed or (self._pump is not None and self._pump.done()):
            viewer.end()
            return viewer
        self._viewers.add(viewer)
        if self._pump is None:
            self._pump = asyncio.create_task(self._fan_out(), name=f"pty-{self.pid}-output")
        return viewer

    def detach(self, viewer: TerminalOutput) -> None:
        self._viewers.discard(viewer)
        viewer.end()

    async def close(self) -> None:
        """Hang up, then SIGTERM and SIGKILL whatever of the session is left, and reap it."""
        if self._closed:
            await self._exited
            return
        self._closed = True
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for viewer in self._viewers:
            viewer.end()
        try:
            await self._end_session()
        finally:
            for wait in self._waits:
                _resolve(wait)
            await self._no_waits.wait()
            os.close(self._fd)

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def _more_output(self) -> bool:
        """Wait for output; False once the shell has exited and nothing more arrives."""
        if not self._exited.done():
            await self._ready(self._loop.add_reader, self._loop.remove_reader)
            return True
        # What the shell wrote just before exiting can still be on its way through the
        # tty layer (flushed by a kernel worker), so give it a moment to arrive.
        return await self._ready(self._loop.add_reader, self._loop.remove_reader, _DRAIN_GRACE)

    async def _ready(self, add: _Watch, remove: _Unwatch, within: float | None = None) -> bool:
        """Wait until the master is readable/writable (True), the shell exits or time is up."""
        if self._closed:
            return False
        ready: asyncio.Future[None] = self._loop.create_future()
        add(self._fd, _resolve, ready)
        self._waits.add(ready)
        self._no_waits.clear()
        try:
            waits: list[asyncio.Future[Any]] = [ready]
            if not self._exited.done():
                waits.append(self._exited)
            await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
            return ready.done() and not self._closed
        finally:
            remove(self._fd)
            ready.cancel()
            self._waits.discard(ready)
            if not self._waits:
                self._no_waits.set()

    async def _fan_out(self) -> None:
        try:
            while data := await self.read():
                self.scrollback.add(data)
                for viewer in list(self._viewers):
                    if not await viewer.put(data):
                        log.warning("dropping a terminal viewer that stopped reading")
                        self.detach(viewer)
        except Exception:
            log.exception("reading terminal %s failed", self.pid)
        finally:
            for viewer in self._viewers:
                viewer.end()

    async def _end_session(self) -> None:
        sid = self.pid
        _signal_session(sid, signal.SIGHUP)
        if await self._exits_within(_HANGUP_GRACE):
            _signal_session(sid, signal.SIGKILL)  # background jobs that ignore SIGHUP
            return
        _signal_session(sid, signal.SIGTERM)
        if not await self._exits_within(_TERM_GRACE):
            log.warning("terminal shell %s ignored SIGHUP and SIGTERM; killing it", sid)
        _signal_session(sid, signal.SIGKILL)
        await self._exited

    async def _exits_within(self, seconds: float) -> bool:
        done, _ = await asyncio.wait([self._exited], timeout=seconds)
        return bool(done)


_Watch = Callable[..., object]
_Unwatch = Callable[[int], object]


def _shell(env: Mapping[str, str]) -> str:
    """The user's shell ($SHELL), else bash, else sh: the first one that can run."""
    for candidate in (env.get("SHELL"), os.environ.get("SHELL"), "/bin/bash", "/bin/sh"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return "/bin/sh"


def _set_size(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def _take_controlling_terminal() -> None:
    """Run in the child between fork and exec, after setsid: stdin becomes its terminal."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _signal_session(sid: int, sig: signal.Signals) -> None:
    """Send `sig` to every process of the session `sid` (the shell and all its jobs)."""
    for pid in _session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _session_members(sid: int) -> list[int]:
    # Jobs of an interactive shell have process groups of their own, so killpg is not
    # enough. A session id stays reserved while any member lives, so this cannot hit a
    # stranger.
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:
        return [sid]
    members = []
    for entry in entries:
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.getsid(int(entry)) == sid:
                    members.append(int(entry))
    return members
