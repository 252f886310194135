// `baiBridge/input`: a run waits for a line of input; ask the person (masked for passwords).
import * as vscode from "vscode";

import type { InputRequestParams, InputResponse } from "./protocol";

export async function askForInput(params: InputRequestParams): Promise<InputResponse> {
  const text = await vscode.window.showInputBox({
    title: "Backend.AI: the run asks for input",
    prompt: params.prompt.trim() === "" ? "Input for the running code" : params.prompt,
    password: params.password ?? false,
    ignoreFocusOut: true,
  });
  return text === undefined ? null : { text };
}
