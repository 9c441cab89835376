/**
 * The one way the bridge words a zod failure: `where: what is wrong (got what)`.
 * Option parsers report every issue with the value received; the event boundary
 * reports the first issue of a payload (one line per dropped event is enough).
 */
import { z } from "zod";

/** `prefix.path.to.field: message` (just `prefix: message` when the issue is at the root). */
export type Issue = z.ZodError["issues"][number];

/** Every issue as its dotted path (`root` when the issue is at the root) and zod's message: the daemon's 400 bodies. */
export function issueList(error: z.ZodError, root: string): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join(".") || root, message: i.message }));
}

export function issueAt(issue: Issue, prefix?: string): string {
  const path = issue.path.map(String);
  const where = (prefix === undefined ? path : [prefix, ...path]).join(".");
  return `${where}: ${issue.message}`;
}

/** A short, safe rendering of a received value for an error message. */
export function describeValue(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  if (typeof v === "function") return "a function";
  return typeof v === "object" ? (JSON.stringify(v)?.slice(0, 60) ?? typeof v) : String(v);
}

/** An option that is a whole number of at least `min`; its messages name it (`what`). */
export const wholeNumber = (what: string, min: number) =>
  z.number({ error: `${what} must be a number` }).int(`${what} must be a whole number`).min(min, `${what} must be at least ${min}`);

export interface OptionIssuesFormat {
  /** What a root-level issue is called, e.g. "(config)". */
  readonly root: string;
  /** Top-level keys whose values must not appear in messages, with what to say instead. */
  readonly hidden?: Readonly<Record<string, string>>;
}

/**
 * Every issue of an options object, `; `-separated, each naming the field, the
 * problem and what was received (top-level value; hidden keys are not shown).
 */
export function formatOptionIssues(error: z.ZodError, input: unknown, fmt: OptionIssuesFormat): string {
  return error.issues
    .map((i) => {
      const key = String(i.path[0] ?? "");
      const got = i.path.length ? (input as Record<string, unknown>)[key] : input;
      const hidden = fmt.hidden?.[key];
      const shown = hidden !== undefined && got !== undefined ? hidden : describeValue(got);
      return `${i.path.join(".") || fmt.root}: ${i.message} (got ${shown})`;
    })
    .join("; ");
}
