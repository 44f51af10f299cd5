/**
 * Debian's Chromium, driven by Playwright (playwright-core: no browser of its own is downloaded).
 * `scripts/install-browser.sh` installs it (CI runs it before `npm test`). When it is missing the
 * browser tests fail with that instruction: they never skip.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Screenshots of the browser tests (git-ignored). */
export const ARTIFACTS_DIR = path.join(__dirname, '..', '.artifacts');

/**
 * Flags for a closed network: no background connections (update checks, sync, field trials), no QUIC,
 * no GPU, no sandbox (CI runs as root). Playwright adds --headless.
 */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Saves a full-page screenshot into test/.artifacts/<name>.png and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}: the Web UI browser tests need Debian's Chromium. ` +
        'Install it with scripts/install-browser.sh (apt-get install chromium), or set CHROMIUM_PATH.',
    );
  }
  // A fresh, empty profile per run: nothing carried over between tests.
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1440, height: 900 },
    timezoneId: 'UTC',
  });
  const page = context.pages()[0] ?? (await context.newPage());
  fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
  return {
    context,
    page,
    async screenshot(name) {
      const file = path.join(ARTIFACTS_DIR, `${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** Waits until the Web UI answers (it may start a moment after the frontend). */
export async function waitForUi(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`the Temporal Web UI at ${url} did not answer within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Types a visibility query into the Web UI's raw query box and runs it, as an operator would. */
export async function searchWorkflows(page: Page, uiUrl: string, namespace: string, query: string): Promise<void> {
  await page.goto(`${uiUrl}/namespaces/${namespace}/workflows`);
  const box = page.getByPlaceholder('Enter a query');
  await page.getByTestId('toggle-manual-query').waitFor();
  if (!(await box.isVisible())) await page.getByTestId('toggle-manual-query').click();
  await box.fill(query);
  await page.getByRole('button', { name: 'Search', exact: true }).click();
}
