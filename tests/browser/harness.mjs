// harness.mjs - browser tests: Debian's chromium driven by playwright-core
// against the real `ruxue serve` (started by ../e2e/harness.mjs) serving
// the pages of web/.
//
//   const srv = await startServer({ extraArgs: ['--web', WEB, '--district', dir] });
//   const b = await openBrowser();
//   const { page, problems } = await b.phone();   // 360 x 740, touch; or b.desktop()
//   await page.goto(srv.base + '/family/');
//   ...
//   assert.deepEqual(problems(), []);             // no console error, no failed request
//   await shot(page, 'family-result-phone');      // SHOTS/family-result-phone.png
//   await b.close();
//
// Environment: RUXUE (the binary), CHROMIUM (default /usr/bin/chromium).

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(HERE, '..', '..');
export const WEB = join(ROOT, 'web');
// Screenshots go to build/screenshots/ in every run, so a test run leaves the
// tree as it was; `make screenshots` sets RUXUE_SCREENSHOTS=docs/screenshots
// to refresh the ones the README shows.
export const SHOTS = process.env.RUXUE_SCREENSHOTS || join(ROOT, 'build', 'screenshots');

/**
 * Collect what a page must never do: a console error, an uncaught
 * exception, a request that fails or answers 5xx.  Answers 4xx are the
 * API saying no (a wrong code, a refused upload) and are the tests' to
 * judge, so they are not collected unless `strict4xx`.
 */
function watch(page, { strict4xx = false } = {}) {
  const seen = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource: the server responded with a status of 4\d\d/.test(m.text()))
      seen.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => seen.push(`exception: ${e.message}`));
  page.on('requestfailed', (r) => seen.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => {
    if (r.status() >= 500 || (strict4xx && r.status() >= 400)) seen.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
    const u = new URL(r.url());
    if (!['127.0.0.1', 'localhost'].includes(u.hostname) && u.protocol !== 'data:')
      seen.push(`outside request: ${r.url()}`);
  });
  return () => seen.slice();
}

export async function openBrowser() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const open = async (opts) => {
    const context = await browser.newContext({ locale: 'zh-CN', ...opts });
    // no network beyond the server: anything else is refused (and reported by watch)
    await context.route((url) => !['127.0.0.1', 'localhost'].includes(url.hostname), (route) => route.abort());
    const page = await context.newPage();
    const problems = watch(page);
    return { context, page, problems };
  };
  return {
    browser,
    phone: () => open({ viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 }),
    desktop: () => open({ viewport: { width: 1280, height: 860 } }),
    close: () => browser.close(),
  };
}

/** A full-page screenshot into SHOTS/NAME.png. */
export async function shot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
