/**
 * Installing the pinned opencode-ai into the per-user cache, with a stand-in
 * npm (a shell script) so that no test touches the registry: where it goes,
 * progress, one-sentence failures with npm's own reason, nothing half-made left.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  cacheDir,
  cacheRoot,
  ensureOpencode,
  InstallError,
  type InstallProgress,
  opencodeLine,
  opencodePackage,
  PINNED_OPENCODE2_VERSION,
  PINNED_OPENCODE_VERSION,
  resolveOpencodeVersion,
} from "../src/server/install.js";
import { npmReason } from "../src/server/npm.js";

const scratch = mkdtempSync(join(tmpdir(), "install-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;

/** A stand-in npm: appends its arguments to a log, then runs `body` in the install directory. */
function fakeNpm(body: string): { npm: string; calls: () => string[] } {
  const dir = join(scratch, `npm-${++n}`);
  rmSync(dir, { recursive: true, force: true });
  writeFileSync(join(scratch, `npm-${n}.sh`), "");
  const log = join(scratch, `npm-${n}.log`);
  const npm = join(scratch, `npm-${n}.sh`);
  writeFileSync(npm, `#!/bin/sh\necho "$*" >> '${log}'\n${body}\n`);
  chmodSync(npm, 0o755);
  return { npm, calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []) };
}

const INSTALLS = `mkdir -p node_modules/opencode-ai/bin
printf '{"name":"opencode-ai","bin":{"opencode":"./bin/opencode"}}' > node_modules/opencode-ai/package.json
printf '#!/bin/sh\\necho 1.9.99\\n' > node_modules/opencode-ai/bin/opencode
chmod +x node_modules/opencode-ai/bin/opencode`;

const OFFLINE = `echo 'npm error code ENOTFOUND' >&2
echo 'npm error syscall getaddrinfo' >&2
echo 'npm error errno ENOTFOUND' >&2
echo 'npm error network request to https://registry.npmjs.org/opencode-ai failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org' >&2
echo 'npm error A complete log of this run can be found in: /root/.npm/_logs/x.log' >&2
mkdir -p node_modules/half-made
exit 1`;

describe("the cache root", () => {
  it("is $OPENCODE_BRIDGE_CACHE, else $XDG_CACHE_HOME/opencode-bridge (if absolute), else ~/.cache/opencode-bridge — never the working directory", () => {
    expect(cacheRoot({ OPENCODE_BRIDGE_CACHE: "/c", XDG_CACHE_HOME: "/x" })).toBe("/c");
    expect(cacheRoot({ XDG_CACHE_HOME: "/x" })).toBe("/x/opencode-bridge");
    expect(cacheRoot({ XDG_CACHE_HOME: "relative" })).toMatch(/\/\.cache\/opencode-bridge$/);
    expect(cacheRoot({})).toMatch(/\/\.cache\/opencode-bridge$/);
    expect(cacheDir("1.2.3", "/c")).toBe("/c/opencode/1.2.3");
  });
});

/** What npm puts on disk for `@opencode/cli-linux-x64` (checked on 2.1.2): `bin/opencode`, no `bin` field. */
const INSTALLS_V2 = `P=node_modules/@opencode/cli-${process.platform}-${process.arch}
mkdir -p $P/bin
printf '{"name":"@opencode/cli-${process.platform}-${process.arch}","version":"2.9.9","os":["${process.platform}"]}' > $P/package.json
printf '#!/bin/sh\\necho 2.9.9\\n' > $P/bin/opencode
chmod +x $P/bin/opencode`;

describe("the 2.x line", () => {
  it("installs only this platform's @opencode/cli-<platform>-<arch> (never the @opencode/cli wrapper) and finds its bin/opencode", async () => {
    expect(opencodeLine("2.1.2")).toBe(2);
    expect(opencodeLine("1.18.33")).toBe(1);
    expect(opencodePackage("2.1.2", "linux", "x64")).toBe("@opencode/cli-linux-x64");
    expect(opencodePackage("1.18.33", "linux", "x64")).toBe("opencode-ai");
    // After 1.18.33, 1.x is published only as platform packages (npm: opencode-ai's latest is 1.18.33).
    expect(opencodePackage("1.19.5", "linux", "x64")).toBe("opencode-linux-x64");
    expect(opencodePackage("1.19.5", "win32", "x64")).toBe("opencode-windows-x64");
    expect(opencodePackage("1.2.27", "linux", "x64")).toBe("opencode-ai");
    expect(opencodePackage("1.18.4", "linux", "x64")).toBe("opencode-ai");
    // What --opencode-version and install --version take: a line's number or a version.
    expect(resolveOpencodeVersion("1")).toBe(PINNED_OPENCODE_VERSION);
    expect(resolveOpencodeVersion("2")).toBe(PINNED_OPENCODE2_VERSION);
    expect(resolveOpencodeVersion(" 1.19.5 ")).toBe("1.19.5");
    expect(resolveOpencodeVersion("2.1.2-beta.1")).toBe("2.1.2-beta.1");
    for (const bad of ["3", "latest", "2.1", "", "v2.1.2"]) expect(resolveOpencodeVersion(bad)).toBeUndefined();
    const root = join(scratch, "v2");
    const npm = fakeNpm(INSTALLS_V2);
    const bin = await ensureOpencode("2.9.9", { root, npm: npm.npm });
    const pkg = `@opencode/cli-${process.platform}-${process.arch}`;
    expect(bin).toBe(join(root, "opencode", "2.9.9", "node_modules", pkg, "bin", "opencode"));
    expect(npm.calls()).toHaveLength(1);
    expect(npm.calls()[0]?.split(" ")).toContain(`${pkg}@2.9.9`);
    expect(npm.calls()[0]).not.toMatch(/@opencode\/cli@/);
    // Found in the cache the second time: npm is not run again.
    expect(await ensureOpencode("2.9.9", { root, npm: npm.npm })).toBe(bin);
    expect(npm.calls()).toHaveLength(1);
  });
});

describe("ensureOpencode", () => {
  it("installs the pinned version once, reporting progress, and finds it afterwards", async () => {
    const root = join(scratch, "ok");
    const npm = fakeNpm(INSTALLS);
    const seen: InstallProgress["phase"][] = [];
    const bin = await ensureOpencode("1.9.99", { root, npm: npm.npm, onProgress: (p) => seen.push(p.phase) });
    expect(bin).toBe(join(root, "opencode", "1.9.99", "node_modules", "opencode-ai", "bin", "opencode"));
    expect(seen).toEqual(["start", "done"]);
    expect(npm.calls()).toHaveLength(1);
    expect(npm.calls()[0]).toContain("install");
    expect(npm.calls()[0]).toContain("opencode-ai@1.9.99");
    expect(await ensureOpencode("1.9.99", { root, npm: npm.npm })).toBe(bin);
    expect(npm.calls()).toHaveLength(1);
    expect(readdirSync(join(root, "opencode"))).toEqual(["1.9.99"]);
    // Found in the cache: the default npm is never run.
    expect(await ensureOpencode("1.9.99", { root })).toBe(bin);
  });

  it("reports progress while npm runs", async () => {
    const root = join(scratch, "slow");
    const npm = fakeNpm(`sleep 0.3\n${INSTALLS}`);
    const seen: InstallProgress["phase"][] = [];
    await ensureOpencode("1.9.99", { root, npm: npm.npm, progressEveryMs: 50, onProgress: (p) => seen.push(p.phase) });
    expect(seen[0]).toBe("start");
    expect(seen).toContain("waiting");
    expect(seen[seen.length - 1]).toBe("done");
  });

  it("offline: one sentence with npm's own reason, and nothing half-made left", async () => {
    const root = join(scratch, "offline");
    const npm = fakeNpm(OFFLINE);
    const err = await ensureOpencode("1.9.99", { root, npm: npm.npm }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstallError);
    expect((err as Error).message).toBe(
      "could not install opencode-ai@1.9.99: npm could not reach the registry: ENOTFOUND: network request to https://registry.npmjs.org/opencode-ai failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org",
    );
    expect((err as Error).message).not.toContain("\n");
    expect(readdirSync(join(root, "opencode"))).toEqual([]);
  });

  it("an install without a binary, or no npm at all, fails clearly and leaves nothing", async () => {
    const root = join(scratch, "nobin");
    const empty = fakeNpm("mkdir -p node_modules/opencode-ai && echo '{}' > node_modules/opencode-ai/package.json");
    await expect(ensureOpencode("1.9.99", { root, npm: empty.npm })).rejects.toThrow(/npm installed opencode-ai@1\.9\.99, but it holds no opencode binary for/);
    expect(readdirSync(join(root, "opencode"))).toEqual([]);
    await expect(ensureOpencode("1.9.99", { root, npm: join(scratch, "no-such-npm") })).rejects.toThrow(/could not run npm to install opencode-ai@1\.9\.99 \(spawn .*ENOENT\)/);
    expect(readdirSync(join(root, "opencode"))).toEqual([]);
  });

  it("two installs at once both end with the one complete copy", async () => {
    const root = join(scratch, "race");
    const npm = fakeNpm(`sleep 0.2\n${INSTALLS}`);
    const [a, b] = await Promise.all([ensureOpencode("1.9.99", { root, npm: npm.npm }), ensureOpencode("1.9.99", { root, npm: npm.npm })]);
    expect(a).toBe(b);
    expect(readdirSync(join(root, "opencode"))).toEqual(["1.9.99"]);
  });

  it("a timeout stops npm and says so", async () => {
    const root = join(scratch, "timeout");
    const npm = fakeNpm("sleep 5");
    await expect(ensureOpencode("1.9.99", { root, npm: npm.npm, timeoutMs: 200 })).rejects.toThrow(/did not finish within 0 s/);
    expect(readdirSync(join(root, "opencode"))).toEqual([]);
  });
});

describe("npmReason", () => {
  it("takes npm's code and first message line, old and new prefixes alike", () => {
    expect(npmReason("npm ERR! code E404\nnpm ERR! 404 Not Found - GET https://registry.npmjs.org/opencode-ai/-/x.tgz\n")).toBe(
      "E404: 404 Not Found - GET https://registry.npmjs.org/opencode-ai/-/x.tgz",
    );
    expect(npmReason("")).toBe("npm gave no reason");
  });
});

describe("an unusable cache directory", () => {
  it("is an InstallError naming the directory", async () => {
    const file = join(scratch, "a-file");
    writeFileSync(file, "");
    const err = await ensureOpencode("1.9.99", { root: join(file, "cache"), npm: fakeNpm(INSTALLS).npm }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InstallError);
    expect((err as Error).message).toMatch(/^could not install opencode-ai@1\.9\.99 into .*a-file\/cache\/opencode\/1\.9\.99: ENOTDIR/);
  });
});
