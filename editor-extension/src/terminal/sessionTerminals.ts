// The open session terminals, told what becomes of the session from each
// `baiBridge/sessionStatus`: a restart or a destroy ends its shell, another session has its own.
import type { TerminalConnection } from "./connection";

const LIVE = new Set(["running", "busy"]);

type Follower = Pick<
  TerminalConnection,
  "moved" | "restarting" | "restarted" | "ending" | "ended" | "started"
>;

export class SessionTerminals {
  private readonly open = new Set<Follower>();
  private state: string | undefined;
  private sessionId: string | undefined;

  add(connection: Follower): void {
    this.open.add(connection);
  }

  delete(connection: Follower): void {
    this.open.delete(connection);
  }

  /** The session's state (and id, once known) from each `baiBridge/sessionStatus`. */
  sessionState(state: string, sessionId?: string | null): void {
    const was = this.state;
    this.state = state;
    const other = Boolean(sessionId && this.sessionId && sessionId !== this.sessionId);
    if (sessionId) this.sessionId = sessionId;
    for (const connection of this.open) {
      if (other)
        connection.moved(); // attached to another session, or a new one started
      else if (state === "restarting") connection.restarting();
      else if (state === "destroying") connection.ending();
      else if (state === "terminated") connection.ended();
      else if (was === "restarting") connection.restarted();
      else if (LIVE.has(state)) connection.started(); // one with the same id (API v4: a name)
    }
  }
}
