// The session chosen in a window, kept in VS Code's workspaceState for every workspace folder
// of the window and handed to the language server at its next start (`attachSession`): a
// folder opened later in another window (or alone) finds the session it worked in. Pure apart
// from the Memento it is given, so unit-tested.

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
    private readonly folders: () => readonly string[],
  ) {}

  /** The session remembered for the window: the first folder's that has one. */
  get(): RememberedSession | undefined {
    for (const folder of this.folders()) {
      const found = this.state.get(PREFIX + folder);
      if (isRemembered(found)) return found;
    }
    return undefined;
  }

  /** The session the editor works in now, for every folder of the window: what the next
   * start attaches to. */
  async remember(id: string | null | undefined, name: string): Promise<void> {
    if (!id) return;
    const stale = this.folders().filter((folder) => {
      const found = this.state.get(PREFIX + folder);
      return !isRemembered(found) || found.id !== id;
    });
    for (const folder of stale) await this.state.update(PREFIX + folder, { id, name });
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
