/** One hub per (server, directory, credentials, dispatcher, frame cap) in the process, released by reference count. */
import { EventHub, type HubOptions } from "./event-hub.js";
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
