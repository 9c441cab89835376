/**
 * Rich prompts: what a host gives (text, files by path or bytes) → the `parts`
 * OpenCode's `prompt_async` accepts (1.2–1.18, docs/dialects.md "Prompt bodies").
 *
 * Files are sent as `data:` URLs (`{type:"file", mime, url, filename}`), never as
 * `file://` paths: OpenCode may run on another machine, and a data URL is read the
 * same everywhere. OpenCode turns a `text/*` file into text the model reads and an
 * image into an image part (for a model that declares image input).
 */
import { readFile, stat } from "node:fs/promises";
import { basename, extname } from "node:path";
import { BridgeError } from "./errors.js";
import { errorMessage } from "../util/errors.js";

export type PromptInputPart =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "file"; readonly path: string; readonly mime?: string; readonly filename?: string }
  | { readonly type: "file"; readonly data: Uint8Array | string; readonly mime: string; readonly filename?: string };

export type WirePart = { type: "text"; text: string } | { type: "file"; mime: string; url: string; filename?: string };

/** Largest file the adapter sends (bytes, before base64). */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;

const MIME_BY_EXT: Readonly<Record<string, string>> = {
  ".txt": "text/plain",
  ".md": "text/markdown",
  ".csv": "text/csv",
  ".json": "application/json",
  ".ts": "text/plain",
  ".js": "text/plain",
  ".py": "text/plain",
  ".html": "text/html",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".pdf": "application/pdf",
};

const bad = (msg: string) => new BridgeError("config", msg);

/** The wire parts for a prompt; reads files given by path. Throws BridgeError("config") naming the bad part. */
export async function toWireParts(input: string | readonly PromptInputPart[]): Promise<WirePart[]> {
  // A string was checked before the turn was queued (checkPrompt, src/adapter/prompt-options.ts).
  if (typeof input === "string") return [{ type: "text", text: input }];
  if (!Array.isArray(input) || input.length === 0) throw bad("prompt parts must be a non-empty array");
  const out: WirePart[] = [];
  for (const [i, p] of input.entries()) {
    const where = `prompt part ${i}`;
    if (typeof p !== "object" || p === null) throw bad(`${where} must be an object`);
    if (p.type === "text") {
      if (typeof p.text !== "string" || p.text === "") throw bad(`${where}: text must be a non-empty string`);
      out.push({ type: "text", text: p.text });
    } else if (p.type === "file") {
      out.push(await filePart(p, where));
    } else {
      throw bad(`${where}: type must be "text" or "file", got ${JSON.stringify((p as { type?: unknown }).type)}`);
    }
  }
  if (!out.some((p) => p.type === "text" && p.text.trim() !== "")) throw bad("a prompt needs at least one non-empty text part");
  return out;
}

async function filePart(p: Extract<PromptInputPart, { type: "file" }>, where: string): Promise<WirePart> {
  let bytes: Buffer;
  let name: string | undefined = p.filename;
  let mime = p.mime;
  if ("path" in p && typeof p.path === "string") {
    let size: number;
    try {
      size = (await stat(p.path)).size;
    } catch (err) {
      throw bad(`${where}: cannot read ${p.path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
    if (size > MAX_FILE_BYTES) throw bad(`${where}: ${p.path} is ${size} bytes; the limit is ${MAX_FILE_BYTES}`);
    bytes = await readFile(p.path);
    name ??= basename(p.path);
    mime ??= MIME_BY_EXT[extname(p.path).toLowerCase()];
    if (mime === undefined) throw bad(`${where}: cannot tell the MIME type of ${p.path}; give mime (e.g. "text/plain", "image/png")`);
  } else if ("data" in p) {
    bytes = typeof p.data === "string" ? Buffer.from(p.data, "base64") : Buffer.from(p.data);
    if (bytes.length > MAX_FILE_BYTES) throw bad(`${where}: ${bytes.length} bytes; the limit is ${MAX_FILE_BYTES}`);
  } else {
    throw bad(`${where}: a file part needs path, or data and mime`);
  }
  if (typeof mime !== "string" || !/^[\w.+-]+\/[\w.+-]+$/.test(mime)) throw bad(`${where}: mime must look like type/subtype, got ${JSON.stringify(mime)}`);
  const mismatch = imageMismatch(mime, bytes);
  if (mismatch !== undefined) throw bad(`${where}: ${mismatch}`);
  return { type: "file", mime, url: `data:${mime};base64,${bytes.toString("base64")}`, ...(name ? { filename: name } : {}) };
}

/** The first bytes of each image type the bridge can check (OpenCode stores nothing and the turn stalls otherwise). */
const IMAGE_MAGIC: Readonly<Record<string, (b: Uint8Array) => boolean>> = {
  "image/png": (b) => [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((x, i) => b[i] === x),
  "image/jpeg": (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  "image/gif": (b) => /^GIF8[79]a/.test(Buffer.from(b.subarray(0, 6)).toString("latin1")),
  "image/webp": (b) => Buffer.from(b.subarray(0, 4)).toString("latin1") === "RIFF" && Buffer.from(b.subarray(8, 12)).toString("latin1") === "WEBP",
};

/** Why `bytes` are not the image `mime` declares (PNG, JPEG, GIF, WebP), or undefined. */
export function imageMismatch(mime: string, bytes: Uint8Array): string | undefined {
  const check = IMAGE_MAGIC[mime.toLowerCase()];
  if (check === undefined || check(bytes)) return undefined;
  return `the bytes are not ${mime} (their start does not match that image type); send the file's real bytes or its real MIME type`;
}
