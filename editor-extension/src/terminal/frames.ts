// The session PTY WebSocket's messages (protocol doc §5.2): JSON in TEXT frames, and from newer
// managers the same JSON in BINARY frames; terminal bytes are base64 in `data`.

/** Which bytes of the terminal's output a replay frame holds (only the embedded server sends
 * one, first after a re-attach that asked with `since`): from `from` to `to`. */
export interface ReplaySpan {
  from: number;
  to: number;
}

export type ServerFrame =
  | { type: "out"; bytes: Uint8Array; replay?: ReplaySpan }
  | { type: "error"; message: string }
  | { type: "ignored"; reason: string };

function asText(data: string | Uint8Array | ArrayBuffer | readonly Uint8Array[]): string {
  if (typeof data === "string") return data;
  if (data instanceof Uint8Array) return Buffer.from(data).toString("utf8");
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString("utf8");
  return Buffer.concat(data.map((part) => Buffer.from(part))).toString("utf8");
}

/** Decode one frame from the server, text or binary. Never throws. */
export function decodeFrame(data: string | Uint8Array | ArrayBuffer | Uint8Array[]): ServerFrame {
  let message: unknown;
  try {
    message = JSON.parse(asText(data));
  } catch {
    return { type: "ignored", reason: "not JSON" };
  }
  if (typeof message !== "object" || message === null)
    return { type: "ignored", reason: "not an object" };
  const {
    type,
    data: payload,
    replay,
  } = message as {
    type?: unknown;
    data?: unknown;
    replay?: unknown;
  };
  if (type === "out" && typeof payload === "string") {
    const bytes = new Uint8Array(Buffer.from(payload, "base64"));
    const span = replaySpan(replay);
    return span === undefined ? { type: "out", bytes } : { type: "out", bytes, replay: span };
  }
  if (type === "error") return { type: "error", message: String(payload) };
  return { type: "ignored", reason: `unknown message type ${String(type)}` };
}

function replaySpan(value: unknown): ReplaySpan | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { from, to } = value as { from?: unknown; to?: unknown };
  return Number.isSafeInteger(from) && Number.isSafeInteger(to)
    ? { from: from as number, to: to as number }
    : undefined;
}

export function encodeStdin(text: string): string {
  return JSON.stringify({ type: "stdin", chars: Buffer.from(text, "utf8").toString("base64") });
}

export function encodeResize(rows: number, cols: number): string {
  return JSON.stringify({ type: "resize", rows, cols });
}

export function encodePing(): string {
  return JSON.stringify({ type: "ping" });
}

/** Terminal bytes to text, keeping a UTF-8 sequence split across frames whole. */
export class TerminalDecoder {
  private readonly decoder = new TextDecoder("utf-8");

  decode(bytes: Uint8Array): string {
    return this.decoder.decode(bytes, { stream: true });
  }
}
