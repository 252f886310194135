// The session chosen for a workspace folder, kept in VS Code's workspaceState and handed to
// the language server at its next start (`attachSession`). Pure apart from the Memento it is
// given, so unit-tested.

export interface RememberedSession {
  id: string;
  name: string;
}

/** The part of vscode.Memento used here. */
export interface StateStore {
  get(key: string): unknown;
  update(key: string, value: unknown): Thenable<void>;
}

const PREFIX = "baiBridge.session:";

export class SessionMemory {
  constructor(
    private readonly state: StateStore,
    private readonly folder: () => string | undefined,
  ) {}

  private key(): string | undefined {
    const folder = this.folder();
    return folder === undefined ? undefined : PREFIX + folder;
  }

  get(): RememberedSession | undefined {
    const key = this.key();
    const found = key === undefined ? undefined : this.state.get(key);
    return isRemembered(found) ? found : undefined;
  }

  /** The session the editor works in now: what the next start attaches to. */
  async remember(id: string | null | undefined, name: string): Promise<void> {
    const key = this.key();
    if (key === undefined || !id || this.get()?.id === id) return;
    await this.state.update(key, { id, name });
  }

  /** The server option for the next start (none when nothing was chosen here). */
  serverOption(): Record<string, string> {
    const found = this.get();
    return found ? { attachSession: found.id } : {};
  }
}

function isRemembered(value: unknown): value is RememberedSession {
  if (typeof value !== "object" || value === null) return false;
  const { id, name } = value as Record<string, unknown>;
  return typeof id === "string" && id !== "" && typeof name === "string";
}
