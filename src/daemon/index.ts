/**
 * `opencode-bridge/daemon`: the HTTP daemon, embedded. Its auth, guards, errors and
 * option schemas are internal; the HTTP API is docs/daemon.md.
 */
export { BridgeDaemon } from "./daemon.js";
export { DaemonError } from "./errors.js";
export type { DaemonOptionsInput, TurnRequest } from "./options.js";
export { ExternalUpstream, OwnedUpstream } from "./upstream.js";
export { AcpUpstream } from "./acp.js";
