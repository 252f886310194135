// When a dropped session terminal connection is retried: exponential backoff with a cap; a
// connection that stayed up long enough resets it. After `maxAttempts` failures in a row it
// waits for the person (a key press) instead of hammering a session that is gone.

export interface ReconnectOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  maxAttempts: number;
  stableAfterMs: number;
}

export const DEFAULT_RECONNECT: ReconnectOptions = {
  initialDelayMs: 500,
  maxDelayMs: 8000,
  maxAttempts: 8,
  stableAfterMs: 10000,
};

export type ReconnectDecision =
  { action: "retry"; delayMs: number; attempt: number } | { action: "wait-for-user" };

export class ReconnectPolicy {
  private failures = 0;

  constructor(private readonly options: ReconnectOptions = DEFAULT_RECONNECT) {}

  /** A connection closed after being up `uptimeMs` (0 if it never opened). */
  onClosed(uptimeMs: number): ReconnectDecision {
    if (uptimeMs >= this.options.stableAfterMs) this.failures = 0;
    this.failures += 1;
    if (this.failures > this.options.maxAttempts) return { action: "wait-for-user" };
    const delay = this.options.initialDelayMs * 2 ** (this.failures - 1);
    return {
      action: "retry",
      delayMs: Math.min(delay, this.options.maxDelayMs),
      attempt: this.failures,
    };
  }

  /** The person asked to try again: start over. */
  reset(): void {
    this.failures = 0;
  }
}

/** WebSocket close codes after which a reconnect makes no sense. */
export function isFinalClose(code: number): boolean {
  // 1000: the server ended the stream on purpose (session terminated); 4xxx: refused.
  return code === 1000 || (code >= 4000 && code < 5000);
}
