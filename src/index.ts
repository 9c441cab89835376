export * from "./codec/index.js";
export * from "./adapter/index.js";
export * from "./sink/index.js";
export { startManagedServer, type ManagedServer, type ManagedServerOptions } from "./server/managed.js";
export * from "./daemon/index.js";
