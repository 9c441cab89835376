/**
 * One adapter per session, cached: an OpenCode adapter (its turns share one /event
 * stream per server and directory) or an ACP adapter (one agent process per
 * session, ./acp.ts). The adapter serializes the turns of its session (a second
 * turn on a session waits for the first); adapters of different sessions run in
 * parallel.
 *
 * Bound: at most `maxIdle` adapters without a running or queued turn are kept;
 * beyond that the least recently used idle ones are closed (for ACP: their agent
 * process stopped). Adapters in use are never closed.
 */
import type { AcpAdapter } from "../acp/adapter.js";
import type { OpencodeAdapter } from "../adapter/adapter.js";

/** What runs a daemon turn: the backend's adapter. */
export type TurnAdapter = OpencodeAdapter | AcpAdapter;

interface Entry {
  readonly adapter: TurnAdapter;
  /** Turns running or queued on it. */
  active: number;
}

export interface Lease<A extends TurnAdapter = TurnAdapter> {
  readonly adapter: A;
  release(): void;
}

export class AdapterPool {
  /** Least recently used first. */
  private readonly entries = new Map<string, Entry>();
  /** Adapters being closed, until they are. */
  private readonly closing = new Map<TurnAdapter, Promise<void>>();

  constructor(
    private readonly maxIdle: number,
    private readonly onClose: (adapter: TurnAdapter) => void = () => {},
  ) {}

  get size(): number {
    return this.entries.size;
  }

  adapters(): TurnAdapter[] {
    return [...this.entries.values()].map((e) => e.adapter);
  }

  /** The adapter kept under `key` (the backend's, the directory and the session), made by `make` when there is none. */
  acquire<A extends TurnAdapter>(key: string, make: () => A): Lease<A> {
    const e = this.entries.get(key) ?? { adapter: make(), active: 0 };
    // Taken again: it moves to the most recently used end.
    this.entries.delete(key);
    this.entries.set(key, e);
    e.active++;
    let released = false;
    return {
      // One key holds one kind of adapter: the key names the backend.
      adapter: e.adapter as A,
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
    await Promise.allSettled([...this.closing.values()]);
  }

  /** Kills every ACP agent process now, kept or being closed (the process is about to exit); OpenCode adapters hold no process. */
  kill(): void {
    for (const a of [...this.adapters(), ...this.closing.keys()]) if ("kill" in a) a.kill();
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

  private close(adapter: TurnAdapter): void {
    this.onClose(adapter);
    this.closing.set(adapter, adapter.close().finally(() => this.closing.delete(adapter)));
  }
}
