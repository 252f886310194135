// The bridge's own LSP vocabulary, declared once here and once in
// server/bai_bridge/lsp/protocol.py, with the same spelling.

/** Server → client notifications. */
export const SESSION_STATUS = "baiBridge/sessionStatus";
export const OUTPUT = "baiBridge/output";
/** Where the session-only packages' sources are cached (PackagePaths). */
export const SESSION_ENVIRONMENT = "baiBridge/sessionEnvironment";
/** Server → client request. */
export const INPUT_REQUEST = "baiBridge/input";
/** Client → server request: the session's names from the namespace mirror. */
export const VARIABLES = "baiBridge/variables";

/** The server's workspace/executeCommand ids (the extension's UI commands use other ids). */
export const ServerCommand = {
  runSelection: "bai-bridge.runSelection",
  runCell: "bai-bridge.runCell",
  runCellsAbove: "bai-bridge.runCellsAbove",
  runFile: "bai-bridge.runFile",
  runFileAsJob: "bai-bridge.runFileAsJob",
  interrupt: "bai-bridge.interrupt",
  restart: "bai-bridge.restart",
  destroy: "bai-bridge.destroy",
  sessionInfo: "bai-bridge.sessionInfo",
  sessionLogs: "bai-bridge.sessionLogs",
  syncWorkspace: "bai-bridge.syncWorkspace",
  listRemoteFiles: "bai-bridge.listRemoteFiles",
  download: "bai-bridge.download",
  terminalDescriptor: "bai-bridge.terminalDescriptor",
  resolveConflict: "bai-bridge.resolveConflict",
  clearPackageCache: "bai-bridge.clearPackageCache",
  listSessions: "bai-bridge.listSessions",
  attachSession: "bai-bridge.attachSession",
  newSession: "bai-bridge.newSession",
} as const;

/** baiBridge/sessionEnvironment: ``view`` is one folder for all the session's packages (null
 * where links cannot be made: then ``paths``, one folder per package). */
export interface PackagePaths {
  python: string | null;
  view: string | null;
  paths: string[];
  cacheRoot: string;
}

/** The session's states, as server/bai_bridge/lsp/protocol.py's SessionState spells them. */
export const SESSION_STATES = [
  "starting",
  "running",
  "busy",
  "restarting",
  "reconnecting",
  "destroying",
  "terminated",
  "error",
] as const;

export type SessionState = (typeof SESSION_STATES)[number];

/** The slots the session holds and, where the server reports it, what it uses (null: unknown).
 * cpu: cores; memory, memoryUsed: bytes; gpu: whole CUDA devices; fgpu: fractional GPU shares;
 * cpuPercent: of one core. */
export interface SessionResources {
  cpu?: number | null;
  memory?: number | null;
  gpu?: number | null;
  fgpu?: number | null;
  cpuPercent?: number | null;
  memoryUsed?: number | null;
}

export interface SessionStatus {
  /** One of SessionState (kept open: a newer server may add states). */
  state: string;
  sessionName: string;
  sessionId?: string | null;
  image?: string | null;
  endpoint?: string | null;
  message?: string | null;
  resources?: SessionResources | null;
}

export type OutputKind = "stdout" | "stderr" | "media" | "html";

export interface OutputItem {
  /** One of OutputKind. */
  kind: string;
  data: string;
  mime?: string | null;
}

export interface Output {
  runId: string;
  /** "start" (label, uri set) | "output" (items set) | "end" (label, uri, status, exitCode
   * set; items: the last output). A run shorter than 20 ms sends only its "end". */
  event: string;
  items?: OutputItem[];
  label?: string | null;
  uri?: string | null;
  /** "finished" | "failed" (traceback) | "interrupted" | "exec-timeout" | "error" (see runOutcome). */
  status?: string | null;
  /** Batch runs' exit code (non-zero: failed), else null. */
  exitCode?: number | null;
}

/** One top-level name of the session (VARIABLES). */
export interface Variable {
  name: string;
  /** module | class | function | instance */
  kind: string;
  type: string;
  /** e.g. "DataFrame (3, 2)", "list len 4", "function (x) -> int" */
  summary: string;
  /** Only of types whose repr is known to be safe. */
  repr?: string | null;
  len?: number | null;
  shape?: number[] | null;
  dtype?: string | null;
  columns?: string[] | null;
  doc?: string | null;
}

export interface VariablesResult {
  variables: Variable[];
  /** The namespace had more than the snapshot's bounds let it describe. */
  truncated: boolean;
  /** The snapshot's; null before the first one. */
  generation: string | null;
}

export interface InputRequestParams {
  runId: string;
  prompt: string;
  password?: boolean;
}

/** The answer to INPUT_REQUEST; `null` cancels (the run is interrupted). */
export type InputResponse = { text: string } | null;

export interface TerminalDescriptor {
  url: string;
  headers: Record<string, string>;
  expiresIn: number;
  sessionName: string;
}

export interface RunResult {
  runId: string;
  status: string;
  exitCode: number | null;
}

export interface RemoteFile {
  filename: string;
  size: number;
  mode: string;
  mtime: number | string;
}

// Command argument shapes (one JSON object each).
export interface Position {
  line: number;
  character: number;
}
export interface RunSelectionArgs {
  uri: string;
  range: { start: Position; end: Position };
}
export interface RunCellArgs {
  uri: string;
  line: number;
}
export interface RunFileArgs {
  uri: string;
}
export interface ListRemoteFilesArgs {
  path?: string;
}
export interface DownloadArgs {
  paths: string[];
  dest?: string;
}
export interface DownloadResult {
  /** What the session sent (names relative to the destination). */
  files: string[];
  /** Local files kept instead of the session's: they had local changes (workspace paths). */
  kept: string[];
  /** The session's copies written beside them ("Keep both"). */
  copies: string[];
}

export interface SyncResult {
  uploaded: string[];
  unchanged: number;
  conflicts: string[];
  /** Over the size cap. */
  skipped: string[];
  failed: string[];
}

export interface ResolveConflictArgs {
  path: string;
  action: "overwrite" | "keep-remote";
}

/** One session of listSessions (the person's sessions, newest first). */
export interface SessionEntry {
  id: string;
  name: string;
  image?: string | null;
  status?: string | null;
  /** ISO 8601. */
  createdAt?: string | null;
  ageSeconds?: number | null;
  /** The slots it holds (or asked for, while pending). */
  resources?: SessionResources | null;
  /** The session this editor works in. */
  current: boolean;
}

export interface SessionList {
  sessions: SessionEntry[];
  /** Of the server's list: more than sessions.length when cut at the limit. */
  totalCount: number;
}

/** What attachSession and newSession resolve to: the session the editor now works in. */
export interface SessionChoice {
  sessionId?: string | null;
  sessionName: string;
  image: string;
  state: string;
}
