// The language server logs to stderr as `%(asctime)s %(levelname)s %(name)s: %(message)s`
// (server/bai_bridge/cli.py). Each record goes to the log channel at its own level instead of
// everything as an error; the channel stamps the time itself, so the server's stamp is dropped.

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogLine {
  level: LogLevel;
  message: string;
}

const RECORD =
  /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (NOTSET|DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$/;

const LEVELS: Record<string, LogLevel> = {
  NOTSET: "debug",
  DEBUG: "debug",
  INFO: "info",
  WARNING: "warn",
  ERROR: "error",
  CRITICAL: "error",
};

/** Reads the server's stderr line by line. A line that starts no record (a traceback under a
 * logged exception, a message spanning lines) keeps the level of the record it belongs to;
 * before the first record (Python failing before logging is set up) it is an error. */
export class ServerLogReader {
  private level: LogLevel = "error";

  read(line: string): LogLine {
    const record = RECORD.exec(line);
    if (record === null) return { level: this.level, message: line };
    this.level = LEVELS[record[1] ?? ""] ?? "info";
    return { level: this.level, message: record[2] ?? "" };
  }
}
