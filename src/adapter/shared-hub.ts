/** One hub per (server, directory, credentials, dispatcher, frame cap) in the process, released by reference count. */
import { EventHub, type HubOptions } from "./event-hub.js";
import type { AdapterConfig } from "./config.js";
import type { OpencodeHttp } from "./http.js";

/** Hubs shared per (server, directory, credentials, dispatcher) within the process. */
const shared = new Map<string, { hub: EventHub; refs: number }>();

export function acquireHub(http: OpencodeHttp, key: string, opts: HubOptions): { hub: EventHub; release(): void } {
  let entry = shared.get(key);
  if (!entry) {
    entry = { hub: new EventHub(http, opts), refs: 0 };
    shared.set(key, entry);
  }
  entry.refs++;
  const e = entry;
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
 * the same one (same server, directory, credentials, dispatcher and frame cap).
 */
export function hubKey(
  config: Pick<AdapterConfig, "baseUrl" | "directory" | "dispatcher" | "maxFrameBytes">,
  auth: string | undefined,
): string {
  return [config.baseUrl, config.directory, auth ?? "", dispatcherId(config.dispatcher), config.maxFrameBytes].join("\u0000");
}

const dispatcherIds = new WeakMap<object, number>();
let lastDispatcherId = 0;

/** A stable number per undici dispatcher, for the shared-hub key (0: the global one). */
function dispatcherId(d: object | undefined): number {
  if (d === undefined) return 0;
  let id = dispatcherIds.get(d);
  if (id === undefined) {
    id = ++lastDispatcherId;
    dispatcherIds.set(d, id);
  }
  return id;
}
