"""Batch mode: clean, build and exec shell steps in the work dir (protocol doc §4.4)."""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from bai_bridge.local.kernel import exit_code_of
from bai_bridge.local.payloads import BatchOptions
from bai_bridge.local.runs import Marker, Record, Run

SKIPPED_EXEC = 127


def heuristic(step: str, work_dir: Path) -> str | None:
    """What `*` means for a step (the Python runner's rules); None = nothing to do."""
    python = sys.executable
    if step == "build":
        if (work_dir / "Makefile").exists():
            return "make"
        if (work_dir / "setup.py").exists():
            return f"{python} -m pip install -e ."
        return None
    if step == "exec" and (work_dir / "main.py").exists():
        return f"{python} main.py"
    return None


class StepRunner:
    """Runs shell commands of one batch run, streaming their output into the run."""

    def __init__(self, run: Run, work_dir: Path, env: Mapping[str, str]) -> None:
        self.run = run
        self.work_dir = work_dir
        self.env = dict(env)
        self.process: asyncio.subprocess.Process | None = None

    async def step(self, name: str, command: str | None) -> int:
        if command == "*":
            command = heuristic(name, self.work_dir)
            if command is None:
                return SKIPPED_EXEC if name == "exec" else 0
        if not command:
            return 0
        return await self.shell(command)

    async def shell(self, command: str) -> int:
        process = await asyncio.create_subprocess_shell(
            command,
            cwd=self.work_dir,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        self.process = process
        try:
            out, err = process.stdout, process.stderr
            if out is not None and err is not None:
                await asyncio.gather(self._pump("stdout", out), self._pump("stderr", err))
            return exit_code_of(await process.wait())
        finally:
            self.kill()
            self.process = None

    async def _pump(self, kind: str, stream: asyncio.StreamReader) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while chunk := await stream.read(65536):
            if text := decoder.decode(chunk):
                await self.run.put(Record(kind, text))
        if tail := decoder.decode(b"", final=True):
            await self.run.put(Record(kind, tail))

    def signal(self, signum: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)


async def run_batch(runner: StepRunner, options: BatchOptions) -> None:
    run = runner.run
    clean = await runner.step("clean", options.clean)
    await run.put(Marker("clean-finished", clean))
    build = await runner.step("build", options.build)
    await run.put(Marker("build-finished", build))
    if build != 0:
        await run.put(Marker("finished", SKIPPED_EXEC))
        return
    await run.put(Marker("finished", await runner.step("exec", options.exec)))
