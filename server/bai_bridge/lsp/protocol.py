"""The bridge's own LSP vocabulary: custom methods, command ids and their payloads.

Declared once here and once in editor-extension/src/protocol.ts, with the same spelling.
Payloads travel through pygls's converter (camelCase on the wire, as attrs field names).
"""

from __future__ import annotations

from typing import Literal

import attrs
from lsprotocol.types import Range

# -- server → client notifications ------------------------------------------------------------
SESSION_STATUS = "baiBridge/sessionStatus"
OUTPUT = "baiBridge/output"
# PackagePaths (session_packages.py): where the session-only packages' sources are cached
SESSION_ENVIRONMENT = "baiBridge/sessionEnvironment"
# -- server → client requests -----------------------------------------------------------------
INPUT_REQUEST = "baiBridge/input"
# -- client → server requests -----------------------------------------------------------------
# VARIABLES  {} -> VariablesResult: the session's top-level names as the namespace mirror knows
#            them (its last snapshot, never asking the kernel; at once during runs; asked as a
#            run ends, once that run's snapshot is in, waiting at most variables.SNAPSHOT_WAIT)
VARIABLES = "baiBridge/variables"

# -- workspace/executeCommand ids (the server's; the extension's own UI commands differ) ------
# Arguments (one JSON object, camelCase; structured strictly by commands.py, so a wrong type
# is an InvalidParams error, never coerced):
#   RUN_SELECTION     {uri, range}        an empty range runs the line at range.start
#   RUN_CELL          {uri, line}         the `# %%` cell holding `line` (0-based)
#   RUN_CELLS_ABOVE   {uri, line}         every cell before the one holding `line`
#   RUN_FILE          {uri}               upload, then run the file in the session's namespace
#                                         (__file__, sys.argv, cwd set for the run; its names kept)
#   RUN_FILE_AS_JOB   {uri}               upload, then `python -- file` in batch mode (its own
#                                         process: the namespace is not touched)
#   LIST_REMOTE_FILES {path?}             -> [{filename, size, mode, mtime}]
#   DOWNLOAD          {paths, dest?}      remote paths into the workspace (or dest); a local
#                                         file changed since sync saw it: the person decides
#   RESOLVE_CONFLICT  {path, action}      action: "overwrite" | "keep-remote"
#   the others take no argument; run commands resolve to {runId, status, exitCode}
#   (RunResult, or null when the backend failed: a window/showMessage says why).
#   Results: SYNC_WORKSPACE -> SyncResult, DOWNLOAD -> DownloadResult, RESOLVE_CONFLICT -> bool,
#   SESSION_INFO -> object, SESSION_LOGS -> str, TERMINAL_DESCRIPTOR -> TerminalDescriptor,
#   CLEAR_PACKAGE_CACHE -> int (the packages removed; null when the feature is off).
#   LIST_SESSIONS     {status?, limit?}   -> SessionList: the person's sessions (the manager's
#                                         GraphQL list), newest first; default: live ones
#   ATTACH_SESSION    {session, destroyCurrent?}  -> SessionChoice: work in that existing
#                                         session (id, id prefix or name) from now on
#   NEW_SESSION       {destroyCurrent?}   -> SessionChoice: start a new session and work in it
#   (the session left keeps running unless destroyCurrent; null when it failed, said why)
RUN_SELECTION = "bai-bridge.runSelection"
RUN_CELL = "bai-bridge.runCell"
RUN_CELLS_ABOVE = "bai-bridge.runCellsAbove"
RUN_FILE = "bai-bridge.runFile"
RUN_FILE_AS_JOB = "bai-bridge.runFileAsJob"
INTERRUPT = "bai-bridge.interrupt"
RESTART = "bai-bridge.restart"
DESTROY = "bai-bridge.destroy"
SESSION_INFO = "bai-bridge.sessionInfo"
SESSION_LOGS = "bai-bridge.sessionLogs"
SYNC_WORKSPACE = "bai-bridge.syncWorkspace"
LIST_REMOTE_FILES = "bai-bridge.listRemoteFiles"
DOWNLOAD = "bai-bridge.download"
TERMINAL_DESCRIPTOR = "bai-bridge.terminalDescriptor"
RESOLVE_CONFLICT = "bai-bridge.resolveConflict"
CLEAR_PACKAGE_CACHE = "bai-bridge.clearPackageCache"
LIST_SESSIONS = "bai-bridge.listSessions"
ATTACH_SESSION = "bai-bridge.attachSession"
NEW_SESSION = "bai-bridge.newSession"

SessionState = Literal[
    "starting",
    "running",
    "busy",
    "restarting",
    "reconnecting",
    "destroying",
    "terminated",
    "error",
]


@attrs.define
class SessionResources:
    """What the session holds (its slots) and, where the server reports it, uses.

    cpu: cores; memory, memory_used: bytes; gpu: whole CUDA devices; fgpu: fractional GPU
    shares; cpu_percent: of one core, over the time since the previous sample (or the
    server's own utilisation figure). None: not reported, or not readable.
    """

    cpu: float | None = None
    memory: int | None = None
    gpu: float | None = None
    fgpu: float | None = None
    cpu_percent: float | None = None
    memory_used: int | None = None


@attrs.define
class SessionStatus:
    """`baiBridge/sessionStatus`: pushed whenever the session's state changes, and when its
    resources (read while it runs: lsp/resources.py) do."""

    state: str  # one of SessionState
    session_name: str
    session_id: str | None = None
    image: str | None = None
    endpoint: str | None = None
    message: str | None = None  # what happened / what to do, for a person
    resources: SessionResources | None = None


@attrs.define
class OutputItem:
    """One console item of a run (protocol doc §4.3), flattened for editors.

    kind: "stdout" | "stderr" | "media" | "html"; for media, ``mime`` is set and ``data`` is a
    data URI (PNG) or the raw text (SVG).
    """

    kind: str
    data: str
    mime: str | None = None


@attrs.define
class Output:
    """`baiBridge/output`: a run's lifecycle and console items, in order.

    event: "start" (label and uri set), "output" (items set), "end" (label, uri, status and
    exit_code set; items: the run's last output). A run is announced only once it has lasted
    20 ms or has output to show: a shorter run sends just its "end".
    status (as in RunResult): "finished" (ran to the end cleanly), "failed" (an error traceback,
    a non-zero exit code, a killed kernel, the session ended under it), "interrupted" (stopped
    by the person: progress cancel, Interrupt command, dismissed input), "exec-timeout" (the
    backend's time limit), "error" (the bridge could not run it). exit_code: the backend's
    (a batch run's process exit code; a query run's 0, or 137 for a killed kernel), if any.
    """

    run_id: str
    event: str
    items: list[OutputItem] = attrs.Factory(list)
    label: str | None = None
    uri: str | None = None
    status: str | None = None
    exit_code: int | None = None


@attrs.define
class InputRequestParams:
    """`baiBridge/input` request: the run waits for a line of input.

    The client answers ``{"text": str}``, or ``null`` to cancel (the run is interrupted).
    """

    run_id: str
    prompt: str
    password: bool = False


@attrs.define
class InputResponse:
    text: str


@attrs.define
class TerminalDescriptor:
    """Result of TERMINAL_DESCRIPTOR: how to open the session's PTY WebSocket directly.

    ``headers`` are signed for this one connection and stop being accepted after about
    ``expires_in`` seconds (the server's date check).
    """

    url: str
    headers: dict[str, str]
    expires_in: float
    session_name: str


@attrs.define
class TerminalDescriptorArgs:
    """TERMINAL_DESCRIPTOR's optional argument: ``since``, the bytes of the terminal's output
    the editor has shown (-1: none yet). The connection then asks the server to replay what
    came after (a server that keeps scrollback does; see local/pty_stream.py)."""

    since: int = -1


# -- command arguments and results (structured by pygls's converter) ---------------------------


@attrs.define
class RunSelectionArgs:
    uri: str
    range: Range


@attrs.define
class RunCellArgs:
    uri: str
    line: int


@attrs.define
class RunFileArgs:
    uri: str


@attrs.define
class RunResult:
    """What a run command resolves to; status as listed on Output ("finished", "failed",
    "interrupted", "exec-timeout", "error")."""

    run_id: str
    status: str
    exit_code: int | None = None


@attrs.define
class ListRemoteFilesArgs:
    path: str = "."


@attrs.define
class RemoteFile:
    filename: str
    size: int
    mode: str
    mtime: float


@attrs.define
class DownloadArgs:
    paths: list[str]
    dest: str | None = None  # a workspace-relative folder; default the workspace root


@attrs.define
class DownloadResult:
    files: list[str]  # what the session sent (names relative to the destination)
    kept: list[str]  # local files kept instead of the session's (workspace paths)
    copies: list[str]  # the session's copies written beside them ("Keep both")


@attrs.define
class ResolveConflictArgs:
    path: str
    action: Literal["overwrite", "keep-remote"]


@attrs.define
class SyncResult:
    uploaded: list[str]
    unchanged: int
    conflicts: list[str]
    skipped: list[str]  # over the size cap
    failed: list[str]


@attrs.define
class Variable:
    """One top-level name of the session: `mirror.Entry` for a Variables view."""

    name: str
    kind: str  # module | class | function | instance
    type: str
    summary: str  # e.g. "DataFrame (3, 2)", "list len 4", "function (x) -> int"
    repr: str | None = None  # only of types whose repr is known to be safe
    len: int | None = None
    shape: list[int] | None = None
    dtype: str | None = None
    columns: list[str] | None = None
    doc: str | None = None


@attrs.define
class VariablesResult:
    variables: list[Variable]
    truncated: bool  # the namespace had more than the snapshot's bounds let it describe
    generation: str | None  # the snapshot's; None before the first one


@attrs.define
class ListSessionsArgs:
    status: str | None = None  # comma-separated manager statuses; None: the live ones
    limit: int = 100


@attrs.define
class SessionEntry:
    """One session of LIST_SESSIONS. created_at: ISO 8601; age_seconds: since then."""

    id: str
    name: str
    image: str | None
    status: str | None
    created_at: str | None
    age_seconds: float | None
    resources: SessionResources | None  # the slots it holds (or asked for, while pending)
    current: bool  # the session this editor works in


@attrs.define
class SessionList:
    sessions: list[SessionEntry]
    total_count: int  # of the server's list: more than len(sessions) when cut at limit


@attrs.define
class AttachSessionArgs:
    session: str
    destroy_current: bool = False


@attrs.define
class NewSessionArgs:
    destroy_current: bool = False


@attrs.define
class SessionChoice:
    """The session the editor works in after ATTACH_SESSION or NEW_SESSION."""

    session_id: str | None
    session_name: str
    image: str
    state: str
