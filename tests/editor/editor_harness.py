"""A real VS Code for the editor tests: code-server (from scripts/setup-editor's cache) with the
built .vsix installed offline, a throwaway user profile, and a clean teardown of every process
it started (the extension host, the language server, its kernels and shells)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "editor-extension"


@dataclass(frozen=True)
class EditorTools:
    node: Path
    code_server: Path
    playwright: Path
    chromium: Path


def editor_tools() -> EditorTools | None:
    """The tools scripts/setup-editor installed, or None when it has not run."""
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "setup-editor"), "--dir"],
        check=True,
        capture_output=True,
        text=True,
    )
    cache = Path(out.stdout.strip())
    if not (cache / ".complete").exists():
        return None
    env = dict(
        line.removeprefix("export ").split("=", 1)
        for line in (cache / "env.sh").read_text().splitlines()
        if line.startswith("export ")
    )

    def value(key: str) -> Path:
        return Path(env[key].strip('"'))

    tools = EditorTools(
        node=value("BAI_BRIDGE_NODE24"),
        code_server=value("BAI_BRIDGE_CODE_SERVER"),
        playwright=value("BAI_BRIDGE_PLAYWRIGHT"),
        chromium=value("BAI_BRIDGE_CHROMIUM"),
    )
    return tools if all(p.exists() for p in vars(tools).values()) else None


def build_vsix(out: Path) -> Path:
    """Package the extension (bundle + the server's wheel) into ``out``."""
    if not (EXTENSION / "node_modules").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=EXTENSION, check=True)
    env = {**os.environ, "PYTHON": str(REPO / ".venv" / "bin" / "python")}
    subprocess.run(
        ["node", "scripts/package.mjs", "--out", str(out)],
        cwd=EXTENSION,
        env=env,
        check=True,
        capture_output=True,
    )
    return out


def user_settings(python: Path) -> dict[str, object]:
    return {
        "security.workspace.trust.enabled": False,
        "baiBridge.interpreter": str(python),
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "workbench.enableExperiments": False,
        "extensions.autoCheckUpdates": False,
        "extensions.autoUpdate": False,
        "extensions.ignoreRecommendations": True,
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "remote.autoForwardPorts": False,
        "terminal.integrated.gpuAcceleration": "off",
        "terminal.integrated.enablePersistentSessions": False,
        "editor.acceptSuggestionOnEnter": "off",
        "editor.autoClosingBrackets": "never",
        "editor.autoClosingQuotes": "never",
        "editor.autoIndent": "none",
        "editor.minimap.enabled": False,
        "files.autoSave": "off",
        "chat.disableAIFeatures": True,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
    }


@dataclass
class Editor:
    url: str
    workspace: Path
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"code-server exited with {process.returncode}")
        with (
            contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError),
            urllib.request.urlopen(url, timeout=2),
        ):
            return
        time.sleep(0.2)  # polling interval while waiting for a condition, not a fixed wait
    raise TimeoutError(f"code-server did not answer {url} within {timeout:.0f} s")


def descendants(pid: int) -> list[int]:
    """Every live process below ``pid``, found through /proc (kernels start their own sessions,
    so a process group kill would miss them)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def stop_tree(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM code-server (the extension host then stops the language server, which stops its
    kernels); then SIGKILL whatever of the tree is left."""
    tree = descendants(process.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    for pid in [process.pid, *tree, *descendants(process.pid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


@contextlib.contextmanager
def code_server(
    tools: EditorTools,
    vsix: Path,
    root: Path,
    workspace: Path,
    logs_to: Path,
    python: Path = REPO / ".venv" / "bin" / "python",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Editor]:
    """code-server on 127.0.0.1 with the extension installed, opened on ``workspace``, with
    ``python`` as the extension's interpreter setting; its logs (the extension's and the
    language server's among them) are copied to ``logs_to``."""
    user_data, extensions = root / "user-data", root / "extensions"
    settings = json.dumps(user_settings(python), indent=2)
    # code-server is a remote window: machine-scoped settings (the interpreter) live in Machine/.
    for scope in ("User", "Machine"):
        (user_data / scope).mkdir(parents=True, exist_ok=True)
        (user_data / scope / "settings.json").write_text(settings)
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CACHE_HOME": str(root / "cache"),
        **(extra_env or {}),
    }
    env.pop("BACKEND_ENDPOINT", None)  # the embedded backend
    base = [str(tools.node), str(tools.code_server), "--user-data-dir", str(user_data)]
    base += ["--extensions-dir", str(extensions)]
    subprocess.run(
        [*base, "--install-extension", str(vsix)], env=env, check=True, capture_output=True
    )
    port = free_port()
    serve = ["--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry"]
    serve += ["--disable-update-check", "--disable-workspace-trust", str(workspace)]
    log = root / "code-server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*base, *serve],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/healthz", process, timeout=120)
        yield Editor(url=url, workspace=workspace, process=process, log=log)
    finally:
        stop_tree(process)
        shutil.rmtree(logs_to, ignore_errors=True)
        shutil.copy2(log, root / "user-data" / "logs" / "code-server.log")
        shutil.copytree(root / "user-data" / "logs", logs_to)


DRIVER = Path(__file__).with_name("drive.mjs")


def extension_logs(editor: Editor, chars: int = 4000) -> str:
    """The tails of the extension's own logs (its log channel, with the language server's
    stderr, and the run output channel) as code-server has written them so far."""
    logs = editor.log.parent / "user-data" / "logs"
    found = sorted(logs.glob("*/exthost*/bai-bridge.*/*.log"))
    found += sorted(logs.glob("*/exthost*/output_logging_*/*Backend.AI*.log"))
    return "\n".join(f"{path.name}:\n{path.read_text(errors='replace')[-chars:]}" for path in found)


def drive(tools: EditorTools, editor: Editor, config: dict[str, object]) -> dict[str, dict]:
    """Run drive.mjs against ``editor``; its steps by name. A failed scenario fails the test
    with the driver's error, its stderr and the tail of code-server's log."""
    full = {
        "url": editor.url,
        "workspace": str(editor.workspace),
        "playwright": str(tools.playwright),
        "chromium": str(tools.chromium),
        "codeServerPid": editor.process.pid,
        **config,
    }
    driver = subprocess.run(
        [str(tools.node), str(DRIVER), json.dumps(full)],
        capture_output=True,
        text=True,
        timeout=540,
    )
    print(driver.stdout)
    steps = {
        line["step"]: line for line in map(json.loads, filter(None, driver.stdout.splitlines()))
    }
    if driver.returncode != 0:
        failed = steps.get("failed", {})
        shown = {key: value for key, value in failed.items() if key not in ("step", "error")}
        pytest.fail(
            f"the editor scenario failed: {failed.get('error')}\n"
            f"the workbench showed: {json.dumps(shown)}\n"
            f"driver stderr:\n{driver.stderr[-3000:]}\n"
            f"code-server log:\n{editor.log.read_text(errors='replace')[-3000:]}\n"
            f"{extension_logs(editor)}"
        )
    return steps


def artifacts_dir(name: str) -> Path:
    """A fresh folder for a test's screenshots and logs (printed, so a run shows where)."""
    folder = REPO / "test-artifacts" / name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    print(f"editor screenshots and logs: {folder}")
    return folder
