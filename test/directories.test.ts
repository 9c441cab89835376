/** Which directories a daemon turn may run in (src/daemon/directories.ts). */
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { directoryRefusal } from "../src/daemon/directories.js";

const root = mkdtempSync(join(tmpdir(), "bridge-dirs-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("directoryRefusal", () => {
  const project = join(root, "project");
  it("allows the served directory and what is inside it, nothing beside it", () => {
    expect(directoryRefusal(project, project, [])).toBeUndefined();
    expect(directoryRefusal(join(project, "a", "b"), project, [])).toBeUndefined();
    expect(directoryRefusal(`${project}-other`, project, [])).toMatch(/not one this daemon serves/);
    expect(directoryRefusal(root, project, [])).toMatch(/not one this daemon serves/);
  });

  it("refuses / and system directories, even when the served tree contains them, unless named", () => {
    expect(directoryRefusal("/", project, [])).toMatch(/directory \/ is refused/);
    expect(directoryRefusal("/", "/", [])).toMatch(/directory \/ is refused/);
    expect(directoryRefusal("/etc", "/", [])).toMatch(/system directory \(\/etc\)/);
    expect(directoryRefusal("/proc/self", project, ["/"])).toMatch(/system directory \(\/proc\)/);
    expect(directoryRefusal("/", project, ["/"])).toBeUndefined();
    expect(directoryRefusal("/etc/ssl", project, ["/etc"])).toBeUndefined();
  });

  it("follows symbolic links: a link inside the project to / is refused", () => {
    const link = join(root, "to-root");
    symlinkSync("/", link);
    expect(directoryRefusal(link, root, [])).toMatch(/directory .* is refused/);
  });
});

describe("image bytes must match their declared type (library and daemon alike)", () => {
  it("a PNG declared image/png passes; text declared image/png is refused naming the type", async () => {
    const { toWireParts, imageMismatch } = await import("../src/adapter/parts.js");
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");
    expect(imageMismatch("image/png", png)).toBeUndefined();
    expect(imageMismatch("image/jpeg", png)).toMatch(/not image\/jpeg/);
    expect(imageMismatch("text/plain", Buffer.from("anything"))).toBeUndefined();
    await expect(toWireParts([{ type: "text", text: "look" }, { type: "file", data: Buffer.from("not a png"), mime: "image/png" }])).rejects.toThrow(
      /prompt part 1: the bytes are not image\/png/,
    );
  });
});
