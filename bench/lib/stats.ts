/** Small statistics and output helpers shared by the benchmarks. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const RESULTS = join(import.meta.dirname, "..", "results");

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** The p-th percentile (0..100), nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1] as number;
}

/** Rotate `xs` left by `k`: contenders take turns at going first. */
export function rotate<T>(xs: readonly T[], k: number): T[] {
  const n = xs.length;
  return xs.map((_, i) => xs[(i + k) % n] as T);
}

export const round = (x: number, digits = 3) => +x.toFixed(digits);
export const int = (x: number) => Math.round(x).toLocaleString("en");
export const pad = (s: string | number, n: number) => String(s).padStart(n);
export const padEnd = (s: string | number, n: number) => String(s).padEnd(n);

export function writeResult(name: string, data: unknown): string {
  mkdirSync(RESULTS, { recursive: true });
  const file = join(RESULTS, name);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

export function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run node with --expose-gc for the memory measurements");
  gc();
  gc();
}

export const mb = (bytes: number) => round(bytes / (1024 * 1024), 1);
