export { BridgeDaemon } from "./daemon.js";
export { DaemonOptionsSchema, TurnRequestSchema, parseDaemonOptions, type DaemonOptions, type DaemonOptionsInput, type TurnRequest } from "./options.js";
export { ExternalUpstream, OwnedUpstream, type OpencodeTarget, type Upstream, type UpstreamHealth } from "./upstream.js";
export { BearerAuth, isLoopbackHost, RequestGuard } from "./auth.js";
export { HttpError } from "./http.js";
export type { TurnOutcome } from "./turns.js";
export { defaultStateDir } from "./state.js";
export type { ShutdownReport } from "./daemon.js";
