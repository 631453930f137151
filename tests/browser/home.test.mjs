// home.test.mjs - the front page: served by the server itself, in Chinese by
// default and in English by the remembered switch, with nothing loaded from
// outside and no console error.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { startServer } from '../e2e/harness.mjs';
import { WEB, openBrowser, shot } from './harness.mjs';

describe('the front page', () => {
  let srv, b;
  before(async () => {
    srv = await startServer({ extraArgs: ['--web', WEB] });
    b = await openBrowser();
  });
  after(async () => {
    await b?.close();
    await srv?.cleanup();
  });

  it('answers in Chinese, switches to English and remembers it, with no errors', async () => {
    const { page, problems } = await b.phone();
    await page.goto(srv.base + '/');
    await page.waitForSelector('#status:not(:empty)');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    await shot(page, 'home-phone');
    assert.deepEqual(problems(), []);
  });
});
