// When the language server dies: restart it right away, but after too many crashes in a
// short window ask the person (with a Restart button) instead of looping. Never silent.

export interface CrashDecision {
  restart: boolean;
  message: string;
}

export class CrashPolicy {
  private readonly crashes: number[] = [];

  constructor(
    private readonly maxCrashes = 5,
    private readonly windowMs = 3 * 60 * 1000,
  ) {}

  onCrash(now: number): CrashDecision {
    this.crashes.push(now);
    while (this.crashes.length > 0 && now - (this.crashes[0] ?? now) > this.windowMs) {
      this.crashes.shift();
    }
    const count = this.crashes.length;
    if (count > this.maxCrashes) {
      return {
        restart: false,
        message: `The Backend.AI language server stopped ${count} times in a few minutes and was not restarted. See the "Backend.AI Bridge" output for why.`,
      };
    }
    return {
      restart: true,
      message: `The Backend.AI language server stopped unexpectedly; restarting it (${count} of ${this.maxCrashes}).`,
    };
  }

  reset(): void {
    this.crashes.length = 0;
  }
}
