/**
 * OpenCode 2.x's dialect for the pure codec: its `/api/event` payloads and its
 * session record, read into the 1.x vocabulary the reducer and the repair path
 * already speak. Pure: no I/O, clock or logger.
 */
export { createV2Translator, type V1Payload, type V2Translator } from "./translate.js";
export { v2FormAnswer } from "./requests.js";
export { v2RecordToMessages } from "./record.js";
export { replayV2Sync, v2LostType, type V2ReplayOptions, type V2ReplayResult } from "./replay.js";
