// "Backend.AI: Attach to Session…": a QuickPick of the person's sessions ("New session"
// first); the choice is made by the server and remembered for every folder of the window.
import * as vscode from "vscode";

import type { CommandDeps } from "./commands";
import { type SessionChoice, type SessionList, ServerCommand } from "./protocol";
import { type PickItem, pickItems } from "./sessionPicker";

export async function attachToSession(deps: CommandDeps): Promise<void> {
  // A promise of items: the picker opens at once and shows it is busy while the list comes.
  const items = deps.client
    .execute<SessionList | null>(ServerCommand.listSessions, {})
    .then((list) => pickItems(list)); // null: the server said why; "New session" still works
  const pick = await vscode.window.showQuickPick<PickItem>(items, {
    title: "Backend.AI: work in which session?",
    placeHolder: "Your sessions, newest first (the one left keeps running)",
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (!pick || (pick.action.kind === "attach" && pick.action.current)) return;
  const choice =
    pick.action.kind === "new"
      ? await deps.client.execute<SessionChoice | null>(ServerCommand.newSession, {})
      : await deps.client.execute<SessionChoice | null>(ServerCommand.attachSession, {
          session: pick.action.id,
        });
  if (choice === null) return; // the server said why
  await deps.memory.remember(choice.sessionId, choice.sessionName);
  vscode.window.setStatusBarMessage(`Backend.AI: working in ${choice.sessionName}`, 5000);
}
