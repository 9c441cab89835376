/**
 * The daemon's console (GET /console) in real headless Chromium, opened as an
 * operator opens it: Debian's Chromium (`npm run setup:browser`, or CHROMIUM_PATH),
 * a fresh profile per run, the token in the link's fragment. Without Chromium the
 * test is skipped with a loud message.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Page } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Where the console's screenshots go (the README shows them). */
export const IMG = join(import.meta.dirname, "..", "..", "docs", "img");

export interface ConsolePage {
  readonly page: Page;
  /** The page's uncaught errors and console errors: a test ends by expecting none. */
  readonly problems: string[];
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

/**
 * Opens `${url}/console` with `token`, resolved once the page has listed the turns
 * and follows the list (`GET /v1/turn-list` answered), so a turn started after this
 * is seen by the page. Undefined when there is no Chromium (the test is skipped).
 */
export async function openConsole(
  ctx: { skip(): void },
  url: string,
  token: string,
  viewport: { width: number; height: number },
): Promise<ConsolePage | undefined> {
  if (!existsSync(CHROMIUM)) {
    console.warn(`\n\n*** SKIPPED a console test: no Chromium at ${CHROMIUM}. Run \`npm run setup:browser\` (apt-get install chromium) or set CHROMIUM_PATH. ***\n\n`);
    ctx.skip();
    return undefined;
  }
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "bridge-chromium-"));
  // A fresh profile (--user-data-dir) per run: playwright passes it for a persistent context.
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    viewport,
    timeout: 60_000,
  });
  const close = async () => {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  };
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const problems: string[] = [];
    page.on("pageerror", (e) => problems.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
    const following = page.waitForResponse((r) => r.url().endsWith("/v1/turn-list") && r.status() === 200, { timeout: 20_000 });
    await page.goto(`${url}/console#token=${token}`);
    await following;
    return { page, problems, close };
  } catch (err) {
    await close();
    throw err;
  }
}
