/**
 * Issue 13 in the codec: precise error codes from real captures, and the dialects
 * (`field: "reasoning"` deltas, `session.next.*`, model/agent on `final`).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { describeServerError, withoutStack } from "../src/codec/mappers.js";
import { replaySync } from "../src/codec/replay.js";
import { contractViolations } from "../src/codec/reply.js";

const pending = (version: string, name: string) => readFileSync(new URL(`./fixtures-pending/${version}/${name}`, import.meta.url), "utf8");

describe("error codes", () => {
  it("a missing project directory (1.18.33, captured) ends not_found without the stack trace", () => {
    const r = replaySync([pending("1.18.33", "probe-missing-directory.sse")], { traceId: "t" });
    const last = r.replies[r.replies.length - 1];
    expect(last).toMatchObject({ kind: "error", code: "not_found" });
    const msg = last?.kind === "error" ? last.error : "";
    expect(msg).toContain("FileSystem.realPath");
    expect(msg).toContain("ENOENT: no such file or directory");
    expect(msg).not.toMatch(/\bat .*\$bunfs|\n/);
    expect(contractViolations(r.replies)).toEqual([]);
  });

  it("provider errors stay upstream, OpenCode's own failures are server", () => {
    expect(describeServerError({ name: "APIError", data: { message: "Unauthorized", statusCode: 401 } }).code).toBe("upstream");
    expect(describeServerError({ name: "ProviderAuthError", data: { message: "bad key", providerID: "x" } }).code).toBe("upstream");
    expect(describeServerError({ name: "UnknownError", data: { message: "Unexpected server error" } }).code).toBe("server");
    expect(describeServerError({ name: "MessageAbortedError", data: { message: "aborted" } }).code).toBe("aborted");
  });

  it("drops stack frames and keeps the server's words and causes", () => {
    const raw = "PlatformError: NotFound: FileSystem.realPath (/x)\n    at a (/$bunfs/root/chunk.js:1:2)\n    at <anonymous>\n  [cause]: Error: ENOENT: no such file";
    expect(withoutStack(raw)).toBe("PlatformError: NotFound: FileSystem.realPath (/x) [cause]: Error: ENOENT: no such file");
  });
});
