/**
 * One hub per (server, directory, credentials, dispatcher, frame cap, clock) in the
 * process, released by reference count; on a server known to be OpenCode 2.x, one
 * for all its directories (2.x has one `/api/event` stream for every directory).
 */
import { EventHub, type HubOptions } from "./event-hub.js";
import type { AdapterConfig } from "./config.js";
import type { Dialect } from "./dialect.js";

/** Hubs shared per (server, directory, credentials, dispatcher) within the process. */
const shared = new Map<string, { hub: EventHub; refs: number }>();

export function acquireHub(dialect: Dialect, key: string, opts: HubOptions): { hub: EventHub; release(): void } {
  const e = shared.get(key) ?? { hub: new EventHub(dialect, opts), refs: 0 };
  shared.set(key, e);
  e.refs++;
  let released = false;
  return {
    hub: e.hub,
    release: () => {
      if (released) return;
      released = true;
      e.refs--;
      if (e.refs === 0) {
        e.hub.close();
        shared.delete(key);
      }
    },
  };
}

/**
 * The key adapters share a hub by: they share a stream only when they would open
 * the same one (same server, directory, credentials, dispatcher and frame cap) and
 * keep time alike (same clock: the hub tells listeners when each event arrived, on
 * its clock, and the turns' deadlines are set from that). A 2.x server's stream is
 * the same for every directory (the hub only opens it; sessions are created by each
 * adapter's own dialect), so when the line is known to be 2 the directory is not
 * part of the key; found at connect time it is (the key is needed before that).
 */
export function hubKey(
  config: Pick<AdapterConfig, "baseUrl" | "directory" | "dispatcher" | "maxFrameBytes" | "clock" | "line">,
  auth: string | undefined,
): string {
  const where = config.line === 2 ? "" : config.directory;
  return [config.baseUrl, where, auth ?? "", objectId(config.dispatcher), config.maxFrameBytes, objectId(config.clock)].join("\u0000");
}

const objectIds = new WeakMap<object, number>();
let lastObjectId = 0;

/** A stable number per object (an undici dispatcher, a clock), for the shared-hub key (0: none, the default). */
function objectId(d: object | undefined): number {
  if (d === undefined) return 0;
  let id = objectIds.get(d);
  if (id === undefined) {
    id = ++lastObjectId;
    objectIds.set(d, id);
  }
  return id;
}
