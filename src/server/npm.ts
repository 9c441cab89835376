/**
 * Running the machine's own npm for an install into the per-user cache
 * (src/server/install.ts), and reading npm's reason out of its output.
 */
import { spawn } from "node:child_process";
import { errorMessage } from "../util/errors.js";

/** An install that failed; `message` is one sentence ending in npm's own reason. */
export class InstallError extends Error {
  override readonly name = "InstallError";
}

/** npm's own reason for a failure: its `code` and the first message line, without the log-file noise. */
export function npmReason(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.replace(/^npm (?:error|ERR!)\s*/, "").trim())
    .filter((l) => l !== "" && !/complete log of this run|^A complete log|^Log files were not written|^You can rerun/i.test(l));
  const code = lines.find((l) => /^code \S+$/.test(l))?.slice(5);
  const message = lines.find((l) => !/^(code|errno|syscall) \S+$/.test(l));
  return [code, message].filter((x) => x !== undefined).join(": ") || "npm gave no reason";
}

export function runNpm(npm: string, args: string[], cwd: string, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    let settled = false;
    const child = spawn(npm, args, { cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, npm_config_update_notifier: "false" } });
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      finish(new InstallError(`installing ${what} with npm did not finish within ${Math.round(timeoutMs / 1000)} s`));
    }, timeoutMs);
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    const keep = (c: string) => {
      output += c;
      if (output.length > 64 * 1024) output = output.slice(-64 * 1024);
    };
    child.stdout.setEncoding("utf8").on("data", keep);
    child.stderr.setEncoding("utf8").on("data", keep);
    child.once("error", (err) =>
      finish(new InstallError(`could not run npm to install ${what} (${errorMessage(err)})`)),
    );
    child.once("close", (code, signal) => {
      if (code === 0) finish();
      else {
        const offline = /ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network/i.test(output);
        const why = offline ? "npm could not reach the registry" : `npm failed (${signal ?? `exit ${code}`})`;
        finish(new InstallError(`could not install ${what}: ${why}: ${npmReason(output)}`));
      }
    });
  });
}

