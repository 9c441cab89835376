// Sums a V8 .cpuprofile (node --cpu-prof): self time by function and by file, and (INCL=N) the N largest inclusive times.
//   node bench/lib/cpuprofile.mjs FILE [TOP]      e.g. on the daemon's profile: docs/performance.md, issue 24
import { readFileSync } from "node:fs";
const [file, topN = "40"] = process.argv.slice(2);
const p = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = p.timeDeltas;
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);
const fn = new Map(), fileT = new Map();
// inclusive by function name
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const incl = new Map();
for (const [id, t] of self) {
  const seen = new Set();
  for (let x = id; x !== undefined; x = parent.get(x)) {
    const cf = byId.get(x).callFrame;
    const k = `${cf.functionName || "(anon)"} ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber}`;
    if (seen.has(k)) continue;
    seen.add(k);
    incl.set(k, (incl.get(k) ?? 0) + t);
  }
}
for (const [id, t] of self) {
  const cf = byId.get(id).callFrame;
  const k = `${cf.functionName || "(anon)"} ${cf.url.split("/").slice(-2).join("/")}:${cf.lineNumber}`;
  fn.set(k, (fn.get(k) ?? 0) + t);
  const f = cf.url ? cf.url.replace(/.*\/(dist|node_modules)\//, "$1/") : `(${cf.functionName})`;
  fileT.set(f, (fileT.get(f) ?? 0) + t);
}
const pr = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, t]) => `${(t / 1000).toFixed(1).padStart(9)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`).join("\n");
console.log(`total ${(total / 1000).toFixed(1)} ms`);
console.log("== self by function\n" + pr(fn, Number(topN)));
console.log("== self by file\n" + pr(fileT, 30));
if (process.env.INCL) console.log("== inclusive\n" + pr(incl, Number(process.env.INCL)));
