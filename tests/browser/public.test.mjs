// public.test.mjs - the signed admission notice and the public page
// (issue #6, items 2 and 4), in Debian's chromium against the real server:
//
//   an intake run to publication through the API (as tests/e2e/intake.test.mjs)
//   -> a family accepts its seat -> its notice page on a phone shows the
//   child's name, the school and the QR code; printed it is one A4 page ->
//   the notice's text verifies on /verify/ and with `ruxue notice verify`;
//   an altered copy is reported altered, one signed by another key forged ->
//   the public page shows every school's cutoff, the ceremony's digests and
//   the bundle's files, and its lottery check gives the published number.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Client, checkChar, familySignIn, idemKey, startServer, staffLogin } from '../e2e/harness.mjs';
import { WEB, openBrowser, shot } from './harness.mjs';

const RUXUE = process.env.RUXUE;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function csvRows(text) {
  return text.replace(/^\uFEFF/, '').split('\r\n').filter((l) => l).map((l) => l.split(','));
}

let serial = 0;
function eligibleChildId() {
  serial++;
  const d17 = `510107${2020}${String(1 + (serial % 8)).padStart(2, '0')}${String(1 + (serial % 27)).padStart(2, '0')}${String(300 + serial).slice(-3)}`;
  return d17 + checkChar(d17);
}

/** The browser signed in as the API client's session (its cookie). */
async function asClient(ctx, srv, client) {
  await ctx.addCookies([{ name: 'rx_session', value: client.cookie, url: srv.base }]);
}

describe('the admission notice and the public page', () => {
  let srv, staff, b, district, schools;
  const fams = []; // {client, receipt, pseudonym, name}
  let published, noticeText, full;

  before(async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rx-public-'));
    district = join(tmp, 'city');
    const g = spawnSync(RUXUE, ['demo', '--out', district, '--students', '100', '--schools', '6', '--seed', '5']);
    assert.equal(g.status, 0, String(g.stderr));
    schools = csvRows(readFileSync(join(district, 'schools.csv'), 'utf8')).slice(1);
    const units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1);
    const catchments = csvRows(readFileSync(join(district, 'catchments.csv'), 'utf8')).slice(1);
    const single = catchments.find((c) => !c[1].includes(';'));
    const unit = units.find((u) => u[4] === single[0])[0];
    srv = await startServer({ extraArgs: ['--web', WEB, '--district', district] });
    staff = await staffLogin(srv);
    b = await openBrowser();

    // the catchment school cut to two seats: three children, so it has a real cutoff
    const text = readFileSync(join(district, 'schools.csv'), 'utf8');
    const lines = text.split('\r\n');
    const k = lines.findIndex((l) => l.startsWith(single[1] + ','));
    const cols = lines[k].split(',');
    cols[3] = '2';
    lines[k] = cols.join(',');
    const up = await staff.request('PUT', '/api/district/schools.csv', { body: lines.join('\r\n') });
    assert.equal(up.status, 200, up.text);
    full = single[1];

    // the intake, step by step, as the bureau and the families do it
    const c = await staff.request('POST', '/api/intake/commit');
    assert.equal(c.status, 200, c.text);
    for (let i = 0; i < 3; i++) {
      const client = await familySignIn(srv, staff);
      const r = await client.request('POST', '/api/applications', {
        json: { id_number: eligibleChildId(), submit: true, child_name: `王小明${i}`, claims: { residence_unit: unit } },
        headers: { 'Idempotency-Key': idemKey() },
      });
      assert.equal(r.status, 201, r.text);
      fams.push({ client, receipt: r.json.receipt, pseudonym: r.json.pseudonym, name: `王小明${i}` });
      const d = await staff.request('POST', `/api/applications/${r.json.receipt}/review`, {
        json: { decision: 'verified', note: '租赁合同已核验' },
      });
      assert.equal(d.status, 200, d.text);
    }
    const now = Date.now();
    const w = await staff.request('PUT', '/api/window', { json: { opens: iso(now - 86400e3), closes: iso(now + 1500) } });
    assert.equal(w.status, 200, w.text);
    await sleep(2000);
    assert.equal((await staff.request('POST', '/api/intake/freeze')).status, 200);
    const dr = await staff.request('POST', '/api/intake/draw', { json: { entropy: '2027-06-30 福彩3D 第2027170期 开奖号码 4 7 1' } });
    assert.equal(dr.status, 200, dr.text);
    const p = await staff.request('POST', '/api/intake/publish', { json: { deadline: iso(Date.now() + 86400e3) } });
    assert.equal(p.status, 200, p.text);
    published = p.json;
  });
  after(async () => {
    await b?.close();
    await srv?.cleanup();
  });

  it('a notice is for an accepted seat, read by its family and the bureau only', async () => {
    const f = fams[0];
    const early = await f.client.request('GET', `/api/applications/${f.receipt}/notice`);
    assert.equal(early.status, 409, early.text);
    assert.equal(early.json.error.code, 'not_accepted');
    const acc = await f.client.request('POST', `/api/applications/${f.receipt}/accept`);
    assert.equal(acc.status, 200, acc.text);
    assert.equal(acc.json.status, 'accepted');
    const r = await f.client.request('GET', `/api/applications/${f.receipt}/notice`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.notice.receipt, f.receipt);
    assert.equal(r.json.notice.pseudonym, f.pseudonym);
    assert.equal(r.json.notice.school, acc.json.school.id);
    assert.equal(r.json.notice.result, published.digest);
    assert.match(r.json.text, /^ruxue-notice-v1\n/);
    assert.match(r.json.qr_svg, /^<svg [^>]*viewBox="0 0 \d+ \d+"/);
    assert.doesNotMatch(r.json.text, /王小明/, 'no name is signed into the notice');
    noticeText = r.json.text;
    f.school = acc.json.school;
    // the same notice again, to the family and to the bureau
    const again = await staff.request('GET', `/api/applications/${f.receipt}/notice`);
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.text, noticeText);
    // nobody else
    const other = await fams[1].client.request('GET', `/api/applications/${f.receipt}/notice`);
    assert.equal(other.status, 404);
    assert.equal((await new Client(srv).request('GET', `/api/applications/${f.receipt}/notice`)).status, 401);
  });

  it('the notice page on a phone: the name, the school, the QR code; printed, one A4 page', async () => {
    const f = fams[0];
    const { context, page, problems } = await b.phone();
    await asClient(context, srv, f.client);
    await page.goto(`${srv.base}/notice/?receipt=${f.receipt}`);
    await page.waitForSelector('#qr svg');
    assert.match(await page.textContent('#greeting'), new RegExp(f.name));
    assert.match(await page.textContent('#body'), new RegExp(f.school.name));
    assert.equal((await page.textContent('#text')).trim(), noticeText.trim());
    const box = await page.locator('#qr svg').boundingBox();
    assert.ok(box.width >= 200 && box.width <= 360, `QR width ${box.width}`);
    await shot(page, 'notice-phone');
    assert.deepEqual(problems(), []);
    await context.close();

    const d = await b.desktop();
    await asClient(d.context, srv, f.client);
    await d.page.setViewportSize({ width: 794, height: 1123 }); // A4 at 96 dpi
    await d.page.goto(`${srv.base}/notice/?receipt=${f.receipt}`);
    await d.page.waitForSelector('#qr svg');
    await d.page.emulateMedia({ media: 'print' });
    assert.equal(await d.page.isVisible('#actions'), false, 'the buttons are not printed');
    await shot(d.page, 'notice-print');
    assert.deepEqual(d.problems(), []);
    await d.context.close();
  });

  it('the notice verifies on /verify/; an altered copy does not', async () => {
    const f = fams[0];
    const { context, page, problems } = await b.phone();
    // each check's answer, waited for by its verdict
    const verdictAfter = async (text) => {
      await page.evaluate(() => document.getElementById('result').removeAttribute('data-verdict'));
      await page.fill('#text', text);
      await page.click('#go');
      await page.waitForSelector('#result[data-verdict]');
      return page.getAttribute('#result', 'data-verdict');
    };
    await page.goto(`${srv.base}/verify/`);
    assert.equal(await verdictAfter(noticeText), 'valid');
    const shown = await page.textContent('#result');
    assert.ok(shown.includes(f.receipt) && shown.includes(f.school.name) && shown.includes(f.pseudonym), shown);
    await shot(page, 'verify-valid-phone');

    const altered = noticeText.replace(/^school_name=.*$/m, 'school_name=北京大学附属小学');
    assert.equal(await verdictAfter(altered), 'altered');
    assert.match(await page.textContent('#message'), /被改动的项目：学校名称/);
    const j = await (await fetch(srv.base + '/api/notice/verify', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ text: altered }) })).json();
    assert.deepEqual(j.altered_fields, ['school_name'], 'the server names what was altered against the notice it issued');
    // a notice for a child the bureau never issued one to (both ids changed): forged
    const never = noticeText.replace(/^receipt=.*$/m, 'receipt=RX-2027G1-AAAAAAAAAA').replace(/^pseudonym=.*$/m, 'pseudonym=P0000000000000000');
    assert.equal(await verdictAfter(never), 'forged');
    const none = await new Client(srv).request('POST', '/api/notice/verify', { json: {} });
    assert.equal(none.status, 400);
    assert.equal(none.json.error.code, 'missing_text');
    await shot(page, 'verify-altered-phone');

    // signed by nobody the bureau knows
    const forged = noticeText.replace(/^key=.*$/m, 'key=0123456789abcdef');
    assert.equal(await verdictAfter(forged), 'wrong_key');
    // cut short
    assert.equal(await verdictAfter(noticeText.split('\n').slice(0, 6).join('\n')), 'malformed');
    assert.deepEqual(problems(), []);
    await context.close();
  });

  it('`ruxue notice verify` says who, which school, which intake; altered is exit 1', () => {
    const f = fams[0];
    const dir = mkdtempSync(join(tmpdir(), 'rx-notice-'));
    const file = join(dir, 'notice.txt');
    writeFileSync(file, noticeText);
    const pub = join(srv.dir, 'bureau.pub');
    const ok = spawnSync(RUXUE, ['notice', 'verify', file, '--pubkey', pub], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^valid:/);
    for (const s of [f.receipt, f.pseudonym, f.school.id, f.school.name, published.digest, '2027-G1'])
      assert.ok(ok.stdout.includes(s), `${s} in ${ok.stdout}`);
    // the text itself as the argument, CRLF line ends
    const crlf = spawnSync(RUXUE, ['notice', 'verify', noticeText.replace(/\n/g, '\r\n'), '--pubkey', pub], { encoding: 'utf8' });
    assert.equal(crlf.status, 0, crlf.stdout + crlf.stderr);
    writeFileSync(file, noticeText.replace(/^round=.*$/m, 'round=private'));
    const bad = spawnSync(RUXUE, ['notice', 'verify', file, '--pubkey', pub], { encoding: 'utf8' });
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /NOT valid \(altered\)/);
    const usage = spawnSync(RUXUE, ['notice', 'verify'], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    const help = spawnSync(RUXUE, ['notice', '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /ruxue notice verify/);
  });

  it('the public page: cutoffs, digests, the bundle, and the lottery check gives the published number', async () => {
    const f = fams[1];
    const res = await f.client.request('GET', `/api/applications/${f.receipt}/result`);
    assert.equal(res.status, 200, res.text);
    const intake = (await new Client(srv).request('GET', '/api/intake')).json;
    for (const [name, ctxOf] of [['public-desktop', () => b.desktop()], ['public-phone', () => b.phone()]]) {
      const { context, page, problems } = await ctxOf();
      await page.goto(`${srv.base}/public/`);
      await page.waitForSelector('#cutoffs-table tbody tr');
      assert.equal(await page.locator('#cutoffs-table tbody tr').count(), schools.length);
      assert.match(await page.textContent(`#cutoffs-table tr[data-school="${full}"]`), /(随机号|lottery) 0\.\d{6}/, 'the full school shows its cutoff');
      assert.equal(await page.textContent('#r-digest'), published.digest);
      assert.equal(await page.textContent('#r-frozen'), intake.freeze.frozen_digest);
      assert.equal(await page.textContent('#r-commitment'), intake.commitment.commitment);
      assert.equal(await page.textContent('#r-seed'), intake.draw.seed);
      await page.waitForSelector('#files li');
      assert.ok(await page.locator('#files a[href="/publication/bureau.pub"]').count() === 1);
      assert.match(await page.textContent('#commands'), /sha256sum -c SHA256SUMS/);
      await page.fill('#lot-pseudonym', f.pseudonym);
      await page.click('#lot-form button[type=submit]');
      await page.waitForSelector('#lot-out:not(:empty)');
      assert.ok((await page.textContent('#lot-out')).includes(res.json.lottery), `${await page.textContent('#lot-out')} has ${res.json.lottery}`);
      await shot(page, name);
      assert.deepEqual(problems(), []);
      await context.close();
    }
    // the files listed are the bundle's, downloadable
    const sums = await fetch(`${srv.base}/publication/SHA256SUMS`);
    assert.equal(sums.status, 200);
  });
});
