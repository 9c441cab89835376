/**
 * What the store's e2e files share: their set-up (`storeRig`: PostgreSQL with a fresh
 * database, a live OpenCode with the scripted model, a webhook recorder, and daemons on
 * the store, every one killed at the end), OpenCode's record of an answer, and a
 * follower of a turn's events on one daemon: every reply with its SSE id, the `done`
 * event, or why the stream was cut (its daemon died).
 */
import { afterAll, beforeAll } from "vitest";
import { createDialect } from "../../src/adapter/line.js";
import type { Reply } from "../../src/codec/reply.js";
import { startRecorder, type Recorder, type RecorderPlan } from "../support/recorder.js";
import { startLive, type Live } from "../support/live.js";
import { freshDatabase, startPostgres, type PostgresServer } from "../support/postgres.js";
import { startDaemon, type Daemon } from "./daemon-process.js";

export interface StoreRig {
  pg: PostgresServer;
  live: Live;
  recorder: Recorder;
  storeUrl: string;
  readonly daemons: Daemon[];
  /** A daemon on the store (`--lease`, the webhook to the recorder, fast retries, debug logs). */
  start(): Promise<Daemon>;
}

/** The set-up of a store e2e file (`beforeAll`/`afterAll` of the calling `describe`); `plan` answers the webhook. */
export function storeRig(token: string, leaseS: number, plan?: RecorderPlan): StoreRig {
  const rig = {
    daemons: [] as Daemon[],
    async start() {
      const d = await startDaemon(
        ["--store", rig.storeUrl, "--lease", String(leaseS), "--opencode-url", rig.live.url, "--directory", rig.live.directory, "--webhook", rig.recorder.url, "--webhook-backoff", "0.01", "--log-level", "debug"],
        { BRIDGE_TOKEN: token },
      );
      rig.daemons.push(d);
      return d;
    },
  } as StoreRig;
  beforeAll(async () => {
    [rig.pg, rig.live, rig.recorder] = await Promise.all([startPostgres(), startLive({ permission: "allow" }), startRecorder(plan)]);
    rig.storeUrl = await freshDatabase(rig.pg);
  }, 180_000);
  afterAll(async () => {
    for (const d of rig.daemons) {
      // A daemon may have been stopped (SIGSTOP) by its test.
      d.child.kill("SIGCONT");
      d.child.kill("SIGKILL");
    }
    await Promise.all(rig.daemons.map((d) => d.exited));
    await Promise.allSettled([rig.live?.stop(), rig.recorder?.close()]);
    await rig.pg?.stop();
  });
  return rig;
}

/** OpenCode's own record of the session's answer text. */
export async function recordedAnswer(live: Live, sessionId: string): Promise<string> {
  const http = createDialect({ baseUrl: live.url, directory: live.directory, requestTimeoutMs: 5_000 });
  const messages = await http.sessionMessages(sessionId, 50);
  return messages
    .filter((m) => m.info.role === "assistant")
    .flatMap((m) => (m.parts ?? []) as Array<{ type?: string; text?: string; synthetic?: boolean }>)
    .filter((p) => p.type === "text" && p.synthetic !== true)
    .map((p) => p.text)
    .join("");
}

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
