/**
 * One sink made of several: each reply goes to every child, in the order the
 * producer delivers them. Children are independent — one that throws or is slow
 * to refuse does not keep a reply from the others — and each is counted apart.
 */
import type { RequestEvent } from "../codec/requests.js";
import type { Reply } from "../codec/reply.js";
import { toSinkObject, type Sink, type SinkObject } from "./types.js";
import { errorMessage } from "../util/errors.js";

export interface NamedSink {
  /** Names the child in errors and metrics, e.g. "webhook" or "jsonl". */
  readonly name: string;
  readonly sink: Sink;
}

/** What a child did, as the fan-out saw it. */
export interface FanoutCounters {
  /** `deliver` calls that resolved (for a queueing sink such as the webhook: accepted, not yet acknowledged). */
  accepted: number;
  /** `deliver` calls that threw or rejected. */
  failures: number;
}

interface Child {
  readonly name: string;
  readonly sink: SinkObject;
  readonly counters: FanoutCounters;
}

/** Names the children that failed, in their order. */
function fanoutError(children: readonly Child[], reply: Reply, failed: readonly { readonly child: Child; readonly why: string }[]): Error {
  const named = [...failed].sort((a, b) => children.indexOf(a.child) - children.indexOf(b.child)).map((f) => `${f.child.name}: ${f.why}`);
  return new Error(`sink failed to take reply ${reply.trace_id}:${reply.seq} (${named.join("; ")})`);
}

export class FanoutSink implements SinkObject {
  private readonly children: Child[];

  constructor(children: readonly NamedSink[]) {
    const names = new Set<string>();
    this.children = children.map(({ name, sink }) => {
      if (names.has(name)) throw new TypeError(`fan-out sink names must be unique, got ${JSON.stringify(name)} twice`);
      names.add(name);
      return { name, sink: toSinkObject(sink), counters: { accepted: 0, failures: 0 } };
    });
  }

  /** The children, for metrics: each with its own sink object and the fan-out's counters of it. */
  entries(): readonly { readonly name: string; readonly sink: SinkObject; readonly counters: Readonly<FanoutCounters> }[] {
    return this.children;
  }

  /**
   * Delivers to every child at once; rejects (after all have settled) naming the
   * children that failed. Synchronous (no promise) when every child took the reply
   * synchronously — a promise per reply only when a child returns one, or to reject.
   */
  deliver(reply: Reply): void | Promise<void> {
    let pending: { readonly child: Child; readonly p: Promise<void> }[] | undefined;
    let failed: { readonly child: Child; readonly why: string }[] | undefined;
    for (const child of this.children) {
      try {
        const p = child.sink.deliver(reply);
        if (p !== undefined && typeof (p as Promise<void>).then === "function") (pending ??= []).push({ child, p: p as Promise<void> });
        else child.counters.accepted++;
      } catch (err) {
        child.counters.failures++;
        (failed ??= []).push({ child, why: errorMessage(err) });
      }
    }
    if (pending === undefined) return failed === undefined ? undefined : Promise.reject(fanoutError(this.children, reply, failed));
    return this.settle(reply, pending, failed ?? []);
  }

  private async settle(reply: Reply, pending: readonly { readonly child: Child; readonly p: Promise<void> }[], failed: { readonly child: Child; readonly why: string }[]): Promise<void> {
    const results = await Promise.allSettled(pending.map((x) => x.p));
    results.forEach((r, i) => {
      const child = pending[i]?.child;
      if (!child) return;
      if (r.status === "fulfilled") child.counters.accepted++;
      else {
        child.counters.failures++;
        failed.push({ child, why: errorMessage(r.reason) });
      }
    });
    if (failed.length > 0) throw fanoutError(this.children, reply, failed);
  }

  /** Request events go to the children that take them (`request`); a failure is thrown after all were tried. */
  async request(evt: RequestEvent): Promise<void> {
    const takers = this.children.filter((c) => typeof c.sink.request === "function");
    const results = await Promise.allSettled(takers.map((c) => Promise.resolve().then(() => c.sink.request?.(evt))));
    const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${takers[i]?.name}: ${errorMessage(r.reason)}`] : []));
    if (failed.length > 0) throw new Error(`sink failed to take a ${evt.type} event (${failed.join("; ")})`);
  }

  /** Children that take request events. */
  get takesRequests(): boolean {
    return this.children.some((c) => typeof c.sink.request === "function");
  }

  async flush(): Promise<void> {
    await settleAll(this.children.map((c) => c.sink.flush?.()), "flush");
  }

  async close(): Promise<void> {
    await settleAll(this.children.map((c) => c.sink.close?.()), "close");
  }
}

async function settleAll(ps: (Promise<void> | undefined)[], what: string): Promise<void> {
  const results = await Promise.allSettled(ps.map((p) => p ?? Promise.resolve()));
  const errors = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (errors.length > 0) throw new AggregateError(errors, `${errors.length} sink(s) failed to ${what}`);
}
