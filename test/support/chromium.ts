// A real headless Chromium for the tests of pages (the dashboard), driven by
// playwright-core: the Debian package's browser, never a downloaded one, with the flags
// this closed network needs (no QUIC, no background fetches of components or sync, which
// would hang or log errors with no internet).
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Starts the machine's Chromium, headless. Fails (never skips) when it is not
 * installed: a test that needs a browser must not pass without one.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(`${CHROMIUM_PATH} is missing: run scripts/install-test-deps (it installs Debian's chromium)`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: FLAGS, timeout: 30_000 });
}

/** A page and what it said on its console: `console.error` calls and uncaught errors, as text. */
export interface WatchedPage {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every `console.error` message and uncaught exception, in order. */
  readonly errors: string[];
}

/**
 * A page in its own context (no cache or storage shared with other tests) at that
 * viewport size, recording its console errors and uncaught exceptions. Close it with
 * `context.close()`.
 */
export async function openPage(
  browser: Browser,
  viewport: { readonly width: number; readonly height: number },
): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console.error: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`uncaught: ${error.message}`));
  return { context, page, errors };
}
