/**
 * One adapter per OpenCode session, cached. The adapter serializes the turns of
 * its session (a second turn on a session waits for the first); adapters of
 * different sessions run in parallel and share one /event stream per server and
 * directory.
 *
 * Bound: at most `maxIdle` adapters without a running or queued turn are kept;
 * beyond that the least recently used idle ones are closed. Adapters in use are
 * never closed.
 */
import type { OpencodeAdapter } from "../adapter/adapter.js";
import type { OpencodeTarget } from "./upstream.js";

interface Entry {
  readonly adapter: OpencodeAdapter;
  /** Turns running or queued on it. */
  active: number;
}

export interface Lease {
  readonly adapter: OpencodeAdapter;
  release(): void;
}

export type AdapterFactory = (target: OpencodeTarget, directory: string) => OpencodeAdapter;

export class AdapterPool {
  /** Least recently used first. */
  private readonly entries = new Map<string, Entry>();
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly make: AdapterFactory,
    private readonly maxIdle: number,
    private readonly onClose: (adapter: OpencodeAdapter) => void = () => {},
  ) {}

  get size(): number {
    return this.entries.size;
  }

  adapters(): OpencodeAdapter[] {
    return [...this.entries.values()].map((e) => e.adapter);
  }

  acquire(target: OpencodeTarget, directory: string, sessionId: string): Lease {
    const key = `${target.baseUrl}\u0000${directory}\u0000${sessionId}`;
    let entry = this.entries.get(key);
    if (entry) this.entries.delete(key);
    entry ??= { adapter: this.make(target, directory), active: 0 };
    this.entries.set(key, entry);
    entry.active++;
    const e = entry;
    let released = false;
    return {
      adapter: e.adapter,
      release: () => {
        if (released) return;
        released = true;
        e.active--;
        this.trim();
      },
    };
  }

  /** Closes every adapter (their queued turns finish first). */
  async closeAll(): Promise<void> {
    for (const [key, e] of this.entries) {
      this.entries.delete(key);
      this.close(e.adapter);
    }
    await Promise.allSettled([...this.closing]);
  }

  private trim(): void {
    let idle = [...this.entries.values()].filter((e) => e.active === 0).length;
    for (const [key, e] of this.entries) {
      if (idle <= this.maxIdle) break;
      if (e.active > 0) continue;
      this.entries.delete(key);
      idle--;
      this.close(e.adapter);
    }
  }

  private close(adapter: OpencodeAdapter): void {
    this.onClose(adapter);
    const p = adapter.close().finally(() => this.closing.delete(p));
    this.closing.add(p);
  }
}
