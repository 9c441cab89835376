// Preloaded into a measured child (`node --import ./bench/lib/max-rss.mjs …`): at
// exit, its peak resident set size goes to the file named by BENCH_MAXRSS_FILE.
import { writeFileSync } from "node:fs";

const file = process.env.BENCH_MAXRSS_FILE;
if (file) process.on("exit", () => writeFileSync(file, String(process.resourceUsage().maxRSS * 1024)));
