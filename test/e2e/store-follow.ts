/**
 * A follower of a turn's events on one daemon of a shared store, for the store's
 * e2e tests: every reply with its SSE id, the `done` event, or why the stream was
 * cut (its daemon died).
 */
import type { Reply } from "../../src/codec/reply.js";
import type { Daemon } from "./daemon-process.js";

export interface Followed {
  replies: Reply[];
  ids: number[];
  done: { outcome: string } | undefined;
  /** Why the stream ended without `done` (the daemon died). */
  cut: string | undefined;
}

/** Follows a turn's events on `d` until `done` or the connection dies; `onReply` sees every reply. */
export async function followStore(d: Daemon, traceId: string, auth: Record<string, string>, lastEventId?: number, onReply?: (n: number) => void): Promise<Followed> {
  const out: Followed = { replies: [], ids: [], done: undefined, cut: undefined };
  try {
    const res = await fetch(`${d.url}/v1/turns/${encodeURIComponent(traceId)}/events`, {
      headers: { ...auth, ...(lastEventId === undefined ? {} : { "last-event-id": String(lastEventId) }) },
    });
    if (res.status !== 200) throw new Error(`status ${res.status}`);
    const decoder = new TextDecoder();
    let buf = "";
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const frame = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const fields = new Map([...frame.matchAll(/^(\w+): ?(.*)$/gm)].map((m) => [m[1]!, m[2]!] as const));
        const field = (name: string) => fields.get(name);
        if (field("event") === "reply") {
          out.replies.push(JSON.parse(field("data")!) as Reply);
          out.ids.push(Number(field("id")));
          onReply?.(out.replies.length);
        } else if (field("event") === "done") {
          out.done = JSON.parse(field("data")!) as { outcome: string };
        }
      }
    }
  } catch (err) {
    out.cut = (err as Error).message;
  }
  return out;
}
