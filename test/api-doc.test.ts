/**
 * The front door (issue 20): what the package exports, read with the TypeScript
 * compiler from the entries package.json names, against docs/api.md.
 *
 * docs/api.md's convention (stated at its top as well):
 * - a `## \`opencode-bridge…\`` heading names an entry point; a `###` heading
 *   inside it may add entries in parentheses: `(also \`opencode-bridge/codec\`)`;
 * - a table whose first header cell is `export` documents names: each backticked
 *   span in a row's first cell is one name (its leading identifier, after an
 *   optional `new `), exported from the heading's entries;
 * - a table whose first header cell is `` `Type` field `` or `` `Type` method ``
 *   lists that exported type's fields (or a class's public members), all of them.
 * The test fails when a documented name is not exported (in a table, or a
 * PascalCase type or class name anywhere on the page), an exported name is not
 * documented, a field or member is missing or extra, or `ErrorCode`'s row does
 * not list every code.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ERROR_CODES } from "../src/codec/reply.js";
import { createTurnState, finishTurn, type TurnState } from "../src/codec/index.js";

const ROOT = resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  exports: Record<string, string | { default: string }>;
  sideEffects?: unknown;
};

/** Entry name ("opencode-bridge/codec") → its source file, from package.json `exports`. */
const ENTRIES: Record<string, string> = Object.fromEntries(
  Object.entries(pkg.exports)
    .filter(([, target]) => typeof target !== "string" && target.default.startsWith("./dist/"))
    .map(([sub, target]) => [
      sub === "." ? "opencode-bridge" : `opencode-bridge/${sub.slice(2)}`,
      join(ROOT, (target as { default: string }).default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts")),
    ]),
);

const program = ts.createProgram(Object.values(ENTRIES), {
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  target: ts.ScriptTarget.ES2022,
  strict: true,
  skipLibCheck: true,
  noEmit: true,
});
const checker = program.getTypeChecker();

function exportsOf(file: string): Map<string, ts.Symbol> {
  const source = program.getSourceFile(file);
  if (!source) throw new Error(`${file} is not in the program`);
  const module = checker.getSymbolAtLocation(source);
  if (!module) throw new Error(`${file} is not a module`);
  return new Map(checker.getExportsOfModule(module).map((s) => [s.name, s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s]));
}
const exported = Object.fromEntries(Object.entries(ENTRIES).map(([entry, file]) => [entry, exportsOf(file)]));

/** A type's properties, without private/protected class members and the opaque brand. */
function membersOf(symbol: ts.Symbol): string[] {
  const type = checker.getDeclaredTypeOfSymbol(symbol);
  return checker
    .getPropertiesOfType(type)
    .filter((p) => {
      const d = p.valueDeclaration ?? p.declarations?.[0];
      if (d === undefined) return true;
      return (ts.getCombinedModifierFlags(d) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0 && !p.name.startsWith("__@");
    })
    .map((p) => p.name)
    .sort();
}

// ---- docs/api.md, read by its convention ------------------------------------------

interface Table {
  entries: string[];
  head: string;
  firstCells: string[];
  line: number;
}

const DOC = readFileSync(join(ROOT, "docs", "api.md"), "utf8");
const backticked = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
const leadingName = (span: string) => /^(?:new\s+)?([A-Za-z_$][\w$]*)/.exec(span)?.[1];
const cells = (row: string) => row.trim().replace(/^\||\|$/g, "").split(/(?<!\\)\|/).map((c) => c.trim());

function tables(): Table[] {
  const out: Table[] = [];
  let entry: string[] = [];
  let extra: string[] = [];
  const lines = DOC.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line.startsWith("## ")) {
      entry = backticked(line).filter((s) => s.startsWith("opencode-bridge"));
      extra = [];
    } else if (line.startsWith("### ")) {
      extra = /\(also ([^)]*)\)/.exec(line)?.[1] ? backticked(/\(also ([^)]*)\)/.exec(line)?.[1] as string) : [];
    } else if (line.startsWith("|") && !(lines[i - 1] ?? "").startsWith("|") && /^\|\s*-/.test(lines[i + 1] ?? "")) {
      const t: Table = { entries: [...entry, ...extra], head: cells(line)[0] ?? "", firstCells: [], line: i + 1 };
      for (i += 2; i < lines.length && (lines[i] as string).startsWith("|"); i++) t.firstCells.push(cells(lines[i] as string)[0] ?? "");
      out.push(t);
    }
  }
  return out;
}

/** Entry → the names its export tables document. */
function documented(): Record<string, Set<string>> {
  const out: Record<string, Set<string>> = Object.fromEntries(Object.keys(ENTRIES).map((e) => [e, new Set<string>()]));
  for (const t of tables().filter((x) => x.head === "export")) {
    expect(t.entries.length, `the export table at docs/api.md:${t.line} is under no entry heading`).toBeGreaterThan(0);
    for (const e of t.entries) {
      const set = out[e];
      if (!set) throw new Error(`docs/api.md:${t.line} names an entry package.json does not have: ${e}`);
      for (const cell of t.firstCells) for (const span of backticked(cell)) set.add(leadingName(span) ?? span);
    }
  }
  return out;
}

describe("the front door", () => {
  it("package.json maps each entry to a source file; no entry has `export *`; sideEffects is false", () => {
    expect(Object.keys(ENTRIES).sort()).toEqual([
      "opencode-bridge",
      "opencode-bridge/acp",
      "opencode-bridge/adapter",
      "opencode-bridge/codec",
      "opencode-bridge/daemon",
      "opencode-bridge/scripted-model",
      "opencode-bridge/sink",
    ]);
    for (const file of Object.values(ENTRIES)) expect(readFileSync(file, "utf8"), file).not.toMatch(/export\s*\*/);
    expect(pkg.sideEffects).toBe(false);
  });

  it("the root holds at most 40 names, the OpenCode entries at most 60 distinct names, the ACP backend at most 12", () => {
    const root = [...(exported["opencode-bridge"]?.keys() ?? [])];
    // opencode-bridge/acp is a second backend (issue 22) with its own small budget;
    // the 60 stays the limit of the OpenCode entries the front door (issue 20) set.
    const acp = [...(exported["opencode-bridge/acp"]?.keys() ?? [])];
    const opencode = new Set(
      Object.entries(exported)
        .filter(([entry]) => entry !== "opencode-bridge/acp")
        .flatMap(([, m]) => [...m.keys()]),
    );
    const all = new Set(Object.values(exported).flatMap((m) => [...m.keys()]));
    console.log(`names: root ${root.length}, OpenCode entries ${opencode.size} distinct, acp ${acp.length}`);
    expect(root.length).toBeLessThanOrEqual(40);
    expect(opencode.size).toBeLessThanOrEqual(60);
    expect(acp.length).toBeLessThanOrEqual(12);
    // The daemon's internals are not part of any entry.
    for (const internal of ["BearerAuth", "RequestGuard", "isLoopbackHost", "HttpError", "DaemonOptionsSchema", "TurnRequestSchema", "parseDaemonOptions"]) {
      expect(all.has(internal), internal).toBe(false);
    }
  });

  it("docs/api.md documents exactly the names each entry exports", () => {
    const doc = documented();
    for (const [entry, names] of Object.entries(exported)) {
      const want = [...names.keys()].sort();
      const got = [...(doc[entry] ?? [])].sort();
      expect({ entry, notDocumented: want.filter((n) => !got.includes(n)), notExported: got.filter((n) => !want.includes(n)) }).toEqual({
        entry,
        notDocumented: [],
        notExported: [],
      });
    }
  });

  it("docs/api.md names no type or class in its prose that no entry exports (but other packages' own)", () => {
    const all = new Set(Object.values(exported).flatMap((m) => [...m.keys()]));
    const foreign = new Set(["MockAgent"]); // undici's
    const named = [...DOC.matchAll(/`(?:new\s+)?([A-Z][a-z]+[A-Z][A-Za-z]*)/g)].map((m) => m[1] as string);
    expect([...new Set(named.filter((n) => !all.has(n) && !foreign.has(n)))]).toEqual([]);
  });

  it("docs/api.md's field and member tables list every field of their type, and no other", () => {
    const byName = new Map(Object.values(exported).flatMap((m) => [...m.entries()]));
    const checked: string[] = [];
    for (const t of tables()) {
      const m = /^`([A-Za-z]\w*)` (field|option|method)s?$/.exec(t.head);
      if (!m) continue;
      const symbol = byName.get(m[1] as string);
      if (!symbol) throw new Error(`docs/api.md:${t.line}: ${m[1]} is not exported`);
      const got = t.firstCells.flatMap((c) => backticked(c).map((s) => leadingName(s) ?? s)).sort();
      const want = membersOf(symbol);
      const table = `docs/api.md:${t.line} (${m[1]})`;
      expect({ table, missing: want.filter((n) => !got.includes(n)), extra: got.filter((n) => !want.includes(n)) }).toEqual({ table, missing: [], extra: [] });
      checked.push(m[1] as string);
    }
    // The tables the issue found wrong are among them.
    expect(checked).toEqual(expect.arrayContaining(["TurnRequest", "AdapterConfigInput", "PromptOptions", "DaemonOptionsInput", "WebhookOptionsInput"]));
  });

  it("docs/api.md's ErrorCode row lists every error code", () => {
    const row = DOC.split("\n").find((l) => l.startsWith("| `ErrorCode`"));
    expect(row).toBeDefined();
    const what = cells(row as string).slice(1).join("|");
    expect(backticked(what).filter((s) => /^[a-z_]+$/.test(s)).sort()).toEqual([...ERROR_CODES].sort());
  });

  it("hosts get an opaque TurnState: they pass it back, they cannot read it", () => {
    const state: TurnState = createTurnState({ traceId: "t", sessionId: "ses_1" });
    // @ts-expect-error the turn state's fields are internal (npm run typecheck fails if this compiles)
    expect(state.traceId).toBe("t");
    expect(finishTurn(state, { code: "aborted" }).replies.map((r) => r.kind)).toEqual(["error"]);
  });
});
