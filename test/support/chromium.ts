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

// Runs in the page (so written as JavaScript: the tests are type-checked without the DOM).
const COUNT_DIFFERENT_PIXELS = String.raw`async ([first, second, tolerance]) => {
  const load = (base64) =>
    new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve(image);
      image.onerror = () => reject(new Error('not a PNG'));
      image.src = 'data:image/png;base64,' + base64;
    });
  const pixels = (image) => {
    const canvas = document.createElement('canvas');
    canvas.width = image.width;
    canvas.height = image.height;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    return context.getImageData(0, 0, image.width, image.height).data;
  };
  const [a, b] = [await load(first), await load(second)];
  if (a.width !== b.width || a.height !== b.height) return null;
  const [x, y] = [pixels(a), pixels(b)];
  let different = 0;
  for (let index = 0; index < x.length; index += 4)
    if (Math.max(...[0, 1, 2, 3].map((channel) => Math.abs(x[index + channel] - y[index + channel]))) > tolerance)
      different++;
  return different;
}`;

/**
 * How many pixels of two PNG images differ by more than `tolerance` (0-255) in some
 * channel, or `null` when their sizes differ. Chromium's anti-aliasing of the same page
 * varies by a step or two between runs, so byte equality says nothing.
 */
export async function differentPixels(
  browser: Browser,
  first: Buffer,
  second: Buffer,
  tolerance = 16,
): Promise<number | null> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const arguments_ = JSON.stringify([first.toString('base64'), second.toString('base64'), tolerance]);
    return await page.evaluate<number | null>(`(${COUNT_DIFFERENT_PIXELS})(${arguments_})`);
  } finally {
    await context.close();
  }
}
