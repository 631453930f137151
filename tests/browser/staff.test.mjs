// staff.test.mjs - the staff console (web/staff/) in a real browser against
// the real server, as the bureau uses it for one intake:
//
//   sign in -> a bad schools.csv is refused with its line and nothing is
//   applied -> a good one is checked, then applied -> families apply (through
//   the API) -> a review settled with the evidence side by side -> a dry run
//   -> a what-if (a school's seats raised: who moves; another intake's or a
//   broken policy refused next to its text) -> the ceremony: commit, the window closed, freeze, draw (the seed shown),
//   the official run with its checks, publication -> seats and the map ->
//   an appeal answered -> the audit log with its chain -> an export read
//   back the same as the API's answer.  A school account, on every page it
//   is offered, never sees another school's applicant and is never offered
//   the bureau's sections.  No console error and no failed request anywhere.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Client, checkChar, familySignIn, freshTotp, idemKey, startServer, staffLogin } from '../e2e/harness.mjs';
import { WEB, openBrowser, shot } from './harness.mjs';

const RUXUE = process.env.RUXUE;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function csvRows(text) {
  return text.replace(/^\uFEFF/, '').split('\r\n').filter((l) => l).map((l) => l.split(','));
}

/** RFC 4180: fields quoted with "" for a quote, CRLF between records. */
function parseCsv(text) {
  const rows = [];
  let row = [], f = '', q = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (q) {
      if (c === '"' && text[i + 1] === '"') { f += '"'; i++; } else if (c === '"') q = false; else f += c;
    } else if (c === '"') q = true;
    else if (c === ',') { row.push(f); f = ''; } else if (c === '\r' && text[i + 1] === '\n') { row.push(f); rows.push(row); row = []; f = ''; i++; } else f += c;
  }
  if (f || row.length) { row.push(f); rows.push(row); }
  return rows;
}

let serial = 0;
function eligibleChildId() {
  serial++;
  const d17 = `510107${2020}${String(1 + (serial % 8)).padStart(2, '0')}${String(1 + (serial % 27)).padStart(2, '0')}${String(200 + serial).slice(-3)}`;
  return d17 + checkChar(d17);
}

function guardianId() {
  serial++;
  const d17 = `510107${1985}${String(1 + (serial % 12)).padStart(2, '0')}${String(1 + (serial % 27)).padStart(2, '0')}${String(300 + serial).slice(-3)}`;
  return d17 + checkChar(d17);
}

// A datetime-local value in China time; Chromium shows whole minutes without
// ":00", and Playwright's fill refuses a value the input would rewrite.
const cst = (ms) => new Date(ms + 8 * 3600e3).toISOString().slice(0, 19).replace(/:00$/, '');

describe('the staff console', () => {
  let srv, staff, b, district, priv, pubSchool, unitOfPub, schoolsText;
  const fams = [];
  let desk; // the bureau's desktop page {page, problems}
  let schoolTotp; // school-priv's TOTP secret, shown once at its creation

  before(async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rx-staff-'));
    district = join(tmp, 'city');
    const g = spawnSync(RUXUE, ['demo', '--out', district, '--students', '100', '--schools', '6', '--seed', '5']);
    assert.equal(g.status, 0, String(g.stderr));
    schoolsText = readFileSync(join(district, 'schools.csv'), 'utf8');
    const schools = csvRows(schoolsText);
    const units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1);
    const catchments = csvRows(readFileSync(join(district, 'catchments.csv'), 'utf8')).slice(1);
    priv = schools.slice(1).find((r) => r[2] === 'private')[0];
    const single = catchments.find((c) => !c[1].includes(';'));
    pubSchool = single[1];
    unitOfPub = units.find((u) => u[4] === single[0])[0];
    srv = await startServer({ extraArgs: ['--web', WEB, '--district', district] });
    staff = await staffLogin(srv);
    b = await openBrowser();
    desk = await b.desktop();
  });
  after(async () => {
    await b?.close();
    await srv?.cleanup();
  });

  const go = async (page, hash, ready) => {
    await page.goto(`${srv.base}/staff/#${hash}`);
    await page.waitForSelector(ready);
  };

  it('signs in, in Chinese by default, with the error next to the field', async () => {
    const { page, problems } = desk;
    await page.goto(srv.base + '/staff/');
    await page.waitForSelector('#signin');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    await page.fill('#signin input[name=username]', 'demo');
    await page.fill('#signin input[name=password]', 'wrong-password');
    // the second factor: a code is asked for before anything is sent
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#signin .error[data-field=code]:not(:empty)');
    assert.match(await page.textContent('#signin .error[data-field=code]'), /6 位动态验证码/);
    await page.fill('#signin input[name=code]', '000000');
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#signin .error[data-field=password]:not(:empty)');
    assert.match(await page.textContent('#signin .error[data-field=password]'), /不正确/);
    await page.fill('#signin input[name=password]', srv.password);
    await page.fill('#signin input[name=code]', await freshTotp(srv.totp));
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#tabs a[href="#setup"]');
    for (const id of ['setup', 'review', 'intake', 'seats', 'appeals', 'audit', 'exports'])
      assert.ok(await page.$(`#tabs a[href="#${id}"]`), id);
    // every field has a label
    assert.deepEqual(problems(), []);
  });

  it('district setup: a bad file shows its line and applies nothing; a good one is checked, then applied', async () => {
    const { page, problems } = desk;
    await go(page, 'setup', '[data-file="schools.csv"]');
    const before = (await staff.request('GET', '/api/district')).json.files['schools.csv'];
    const lines = schoolsText.split('\r\n');
    const f = lines[3].split(',');
    f[3] = '-5';
    lines[3] = f.join(',');
    const box = '[data-file="schools.csv"]';
    await page.setInputFiles(`${box} input[type=file]`, { name: 'schools.csv', mimeType: 'text/csv', buffer: Buffer.from(lines.join('\r\n')) });
    await page.click(`${box} button.secondary`);
    await page.waitForSelector(`${box} .file-error`);
    assert.equal(await page.getAttribute(`${box} .file-error`, 'data-line'), '4');
    assert.match(await page.textContent(`${box} .file-error`), /第 4 行.*seats/);
    assert.equal(await page.isDisabled(`${box} button:not(.secondary)`), true, 'nothing to apply');
    const mid = (await staff.request('GET', '/api/district')).json.files['schools.csv'];
    assert.equal(mid.sha256, before.sha256, 'nothing applied');
    // every control of the page has a label
    const unlabelled = await page.$$eval('input, select, textarea', (els) =>
      els.filter((e) => e.type !== 'radio' && !document.querySelector(`label[for="${e.id}"]`)).map((e) => e.outerHTML));
    assert.deepEqual(unlabelled, []);
    await shot(page, 'staff-setup-error-desktop');

    // the good file: the private school cut to one seat
    const good = schoolsText.split('\r\n');
    const k = good.findIndex((l) => l.startsWith(priv + ','));
    const g = good[k].split(',');
    g[3] = '1';
    good[k] = g.join(',');
    await page.setInputFiles(`${box} input[type=file]`, { name: 'schools.csv', mimeType: 'text/csv', buffer: Buffer.from(good.join('\r\n')) });
    await page.click(`${box} button.secondary`);
    await page.waitForSelector(`${box} .result .ok`);
    assert.match(await page.textContent(`${box} .result`), /检查通过.*尚未应用/);
    assert.equal((await staff.request('GET', '/api/district')).json.files['schools.csv'].sha256, before.sha256, 'a check stores nothing');
    await page.click(`${box} button:not(.secondary)`);
    await page.waitForFunction((sel) => /已应用/.test(document.querySelector(sel)?.textContent ?? ''), `${box} .result`);
    const now = (await staff.request('GET', '/api/district')).json.files['schools.csv'];
    assert.notEqual(now.sha256, before.sha256, 'applied');
    await shot(page, 'staff-setup-desktop');
    assert.deepEqual(problems(), []);
  });

  it('families apply; a school account sees only its own school in the review queue, read-only', async () => {
    for (let i = 0; i < 4; i++) {
      const client = await familySignIn(srv, staff);
      const r = await client.request('POST', '/api/applications', {
        json: {
          id_number: eligibleChildId(), guardians: [guardianId()], submit: true, child_name: `孩子${i}`,
          claims: i === 2 ? { residence_unit: unitOfPub, priority_group: 'military' } : { residence_unit: unitOfPub },
          private_choices: i < 3 ? [priv] : [],
        },
        headers: { 'Idempotency-Key': idemKey() },
      });
      assert.equal(r.status, 201, r.text);
      fams.push({ client, receipt: r.json.receipt });
    }
    const mk = await staff.request('POST', '/api/staff', {
      json: { username: 'school-priv', password: 'a-long-password-9', role: 'school', school: priv },
    });
    assert.equal(mk.status, 201, mk.text);
    schoolTotp = mk.json.totp.secret;
    const { page, problems } = await b.phone();
    await page.goto(srv.base + '/staff/');
    await page.fill('#signin input[name=username]', 'school-priv');
    await page.fill('#signin input[name=password]', 'a-long-password-9');
    await page.fill('#signin input[name=code]', await freshTotp(schoolTotp));
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#review-list table');
    const tabs = await page.$$eval('#tabs a', (as) => as.map((a) => a.getAttribute('href')));
    assert.deepEqual(tabs, ['#review', '#seats', '#exports', '#password'], 'the bureau\'s sections are not offered');
    const text = await page.textContent('main');
    for (const f of fams.slice(0, 3)) assert.ok(text.includes(f.receipt), `${f.receipt} lists the school`);
    assert.ok(!text.includes(fams[3].receipt), 'another school\'s applicant is not shown');
    assert.equal(await page.$('.open-evidence'), null, 'no evidence or decision for a school');
    await shot(page, 'staff-review-school-phone');
    // asking for a bureau section by address falls back to what it may see
    await page.goto(`${srv.base}/staff/#setup`);
    await page.waitForSelector('#review-list table');
    assert.equal(await page.$('[data-file]'), null);
    assert.deepEqual(problems(), []);
    await page.context().close();
  });

  it('review: the evidence side by side, a decision needs a note, the queue shrinks', async () => {
    const { page, problems } = desk;
    await go(page, 'review', '#review-list table');
    const f = fams[0];
    await page.click(`.open-evidence[data-receipt="${f.receipt}"]`);
    await page.waitForSelector('#review-detail .side');
    const ev = await page.textContent('#review-detail .side');
    assert.match(ev, new RegExp(unitOfPub), 'the claim is shown');
    assert.match(ev, /未导入|无记录/, 'next to what the records hold');
    await page.click('#review-detail form.decide button[type=submit]');
    await page.waitForSelector('#review-detail .error[data-field=decision]:not(:empty)');
    await page.check('#review-detail input[value=verified]');
    await page.click('#review-detail form.decide button[type=submit]');
    await page.waitForSelector('#review-detail .error[data-field=note]:not(:empty)');
    await page.fill('#review-detail textarea', '租赁合同与水电缴费记录已核验');
    await shot(page, 'staff-review-desktop');
    await page.click('#review-detail form.decide button[type=submit]');
    await page.waitForSelector('#review-detail .ok');
    assert.equal(await page.$(`.open-evidence[data-receipt="${f.receipt}"]`), null, 'gone from the queue');
    const seen = await f.client.request('GET', `/api/applications/${f.receipt}`);
    assert.equal(seen.json.application.review.decision, 'verified');
    // the rest through the API, so every child has a verified residence
    for (const x of fams.slice(1)) {
      const d = await staff.request('POST', `/api/applications/${x.receipt}/review`, { json: { decision: 'verified', note: '已核验' } });
      assert.equal(d.status, 200, d.text);
    }
    assert.deepEqual(problems(), []);
  });

  it('intake: dry run and what-if, then the ceremony: commit, freeze, draw with the seed shown, run with checks, publish', async () => {
    const { page, problems } = desk;
    await go(page, 'intake', '#step-commit');
    await page.click('#dry-run');
    await page.waitForSelector('#dry-run-result table');
    assert.match(await page.textContent('#dry-run-result'), /否（演练）/);

    // what if: the private school (one seat, three wanting it) given three,
    // typed and sent by keyboard; only the changed school is sent
    const seatsIn = `#what-if-seats input[data-school="${priv}"]`;
    assert.equal(await page.inputValue(seatsIn), '1', 'prefilled with the current seats');
    const unlabelled = await page.$$eval('input, select, textarea', (els) =>
      els.filter((e) => e.type !== 'radio' && !document.querySelector(`label[for="${e.id}"]`)).map((e) => e.outerHTML));
    assert.deepEqual(unlabelled, [], 'every control of the intake section has a label');
    const dryRun = () => page.waitForResponse((r) => r.url().endsWith('/api/intake/dry-run') && r.request().method() === 'POST');
    await page.focus(seatsIn);
    await page.keyboard.press('Control+A');
    await page.keyboard.type('3');
    let answer = dryRun();
    await page.keyboard.press('Enter');
    const wi = await answer;
    assert.equal(wi.status(), 200);
    assert.deepEqual(JSON.parse(wi.request().postData()), { seats: { [priv]: 3 } });
    const w = (await wi.json()).what_if;
    await page.waitForSelector('#what-if-moved');
    const moved = Number(await page.textContent('#what-if-moved'));
    assert.equal(moved, w.moved);
    assert.equal((await page.textContent(`#what-if-result span[data-school="${priv}"]`)).trim(), '3', 'the what-if shows the new seats');
    const placedPrivate = async (id) => Number(await page.textContent(`#${id} dd[data-k=private]`));
    const moveRows = await page.$$eval('#what-if-moves tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    if (moved > 0) {
      assert.equal(moveRows.length, Math.min(moved, 500));
      const receipts = new Set(fams.map((f) => f.receipt));
      for (const [receipt, , to] of moveRows) {
        assert.ok(receipts.has(receipt), `${receipt} is one of the applicants`);
        assert.match(to, new RegExp(priv), 'moved to the school given seats');
      }
      assert.ok(await placedPrivate('what-if-then') > await placedPrivate('what-if-now'), 'more placed in the private round');
    } else {
      assert.equal(moveRows.length, 0);
      assert.match(await page.textContent('#what-if-moves'), /没有儿童会变动/);
    }
    // a policy for another intake: refused, next to the policy text
    const policyText = readFileSync(join(district, 'policy.ini'), 'utf8');
    await page.fill('#what-if-policy', policyText.replace(/^intake = .*$/m, 'intake = 2099-X9'));
    answer = dryRun();
    await page.click('#what-if-run');
    assert.equal((await answer).status(), 422);
    const polErr = '#what-if-form .error[data-field=policy]';
    await page.waitForSelector(`${polErr}:not(:empty)`);
    assert.match(await page.textContent(polErr), /intake.*invalid_file/);
    assert.equal(await page.getAttribute('#what-if-policy', 'aria-invalid'), 'true');
    assert.equal(await page.$('#what-if-moved'), null, 'no answer for a refused what-if');
    // one that does not parse: its line
    const broken = policyText.split('\n');
    const at = broken.findIndex((l) => l.startsWith('intake ='));
    broken[at] = 'intake 2027-G1';
    await page.fill('#what-if-policy', broken.join('\n'));
    await page.click('#what-if-run');
    await page.waitForSelector(`${polErr}[data-line="${at + 1}"]`);
    assert.match(await page.textContent(polErr), new RegExp(`第 ${at + 1} 行`));
    // the policy left empty again: unchanged, and the answer is back
    await page.fill('#what-if-policy', '');
    answer = dryRun();
    await page.click('#what-if-run');
    assert.deepEqual(JSON.parse((await answer).request().postData()), { seats: { [priv]: 3 } });
    await page.waitForSelector('#what-if-moved');
    assert.equal(await page.textContent(polErr), '');

    await page.click('#do-commit');
    await page.waitForFunction(() => /[0-9a-f]{64}/.test(document.querySelector('#step-commit')?.textContent ?? ''));
    // freeze is refused while the window is open: the reason is shown
    await page.click('#do-freeze');
    await page.waitForSelector('#step-freeze .error:not(:empty)');
    assert.match(await page.textContent('#step-freeze .error'), /window_open/);
    // close the window from the setup page
    await go(page, 'setup', '#window-form');
    await page.fill('#window-form input[name=opens]', cst(Date.now() - 86400e3));
    await page.fill('#window-form input[name=closes]', cst(Date.now() + 2500));
    const put = page.waitForResponse((r) => r.url().endsWith('/api/window') && r.request().method() === 'PUT');
    await page.click('#window-form button[type=submit]');
    assert.equal((await put).status(), 200);
    await sleep(3200);
    await go(page, 'intake', '#do-freeze');
    await page.click('#do-freeze');
    await page.waitForSelector('#draw-form');
    assert.match(await page.textContent('#step-freeze'), /4/);
    await page.click('#draw-form button[type=submit]');
    await page.waitForSelector('#draw-form .error[data-field=entropy]:not(:empty)');
    await page.fill('#draw-form input', '2027-06-30 福彩3D 第2027170期 开奖号码 4 7 1');
    await page.click('#draw-form button[type=submit]');
    await page.waitForSelector('#seed');
    const seed = (await page.textContent('#seed')).trim();
    assert.match(seed, /^[0-9a-f]{64}$/);
    assert.equal((await new Client(srv).request('GET', '/api/intake')).json.draw.seed, seed);
    await page.click('#do-run');
    await page.waitForSelector('#run-checks');
    assert.match(await page.getAttribute('#run-checks', 'class'), /chain-ok/);
    assert.match(await page.textContent('#run-checks'), /检查通过/);
    await page.click('#publish-form button[type=submit]');
    await page.waitForFunction(() => document.querySelector('#phase')?.textContent === 'published');
    assert.match(await page.textContent('#step-publish'), /[0-9a-f]{64}/);
    await shot(page, 'staff-intake-desktop');
    assert.deepEqual(problems(), []);
  });

  it('seats: every school with its load, red at capacity, and the map without tiles', async () => {
    const { page, problems } = desk;
    await go(page, 'seats', '#seats-source');
    await page.waitForSelector('#map .leaflet-interactive');
    const rows = await page.$$eval('main tbody tr', (trs) => trs.map((tr) => ({ text: tr.textContent, cls: tr.className })));
    assert.equal(rows.length, 6);
    const p = rows.find((r) => r.text.includes(priv));
    assert.equal(p.cls, 'load-red', 'one seat, three wanting it');
    const markers = await page.$$eval('#map .leaflet-interactive', (m) => m.length);
    const places = (await staff.request('GET', '/api/console/places')).json;
    assert.equal(markers, places.schools.length + places.units.length);
    assert.equal(await page.$('#map .leaflet-tile'), null, 'no tiles');
    await shot(page, 'staff-seats-desktop');
    assert.deepEqual(problems(), []);
  });

  it('appeals: a family appeals, staff answer on the page; moves are listed', async () => {
    const { page, problems } = desk;
    const f = fams[3];
    const a = await f.client.request('POST', `/api/applications/${f.receipt}/appeal`, { json: { text: '孩子住院，请求调整学位。' } });
    assert.equal(a.status, 201, a.text);
    await go(page, 'appeals', '#appeals-list .card');
    const form = `form.answer[data-appeal="${a.json.id}"]`;
    await page.click(`${form} button`);
    await page.waitForSelector(`${form} .error[data-field=answer]:not(:empty)`);
    await page.fill(`${form} textarea`, '经核实，维持原学位安排。');
    await shot(page, 'staff-appeals-desktop');
    await page.click(`${form} button`);
    await page.waitForSelector('#appeals-list p.ok');
    assert.equal(await page.$(form), null);
    const seen = await f.client.request('GET', `/api/applications/${f.receipt}/result`);
    assert.equal(seen.json.appeals[0].status, 'answered');
    assert.match(seen.json.appeals[0].answer, /维持/);
    assert.deepEqual(problems(), []);
  });

  it('the audit log: entries a page at a time, the chain intact with its head', async () => {
    const { page, problems } = desk;
    await go(page, 'audit', '#chain-state');
    assert.match(await page.textContent('#chain-state'), /链完整/);
    assert.match(await page.textContent('#chain-head'), /^[0-9a-f]{64}$/);
    const actions = await page.$$eval('#audit-list tbody tr td:nth-child(4)', (tds) => tds.map((t) => t.textContent));
    assert.ok(actions.includes('document.put'));
    const r = await staff.request('GET', '/api/console/audit?after=0&limit=5');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.entries.map((e) => e.seq), [1, 2, 3, 4, 5]);
    assert.equal(r.json.next, 5);
    assert.equal((await staff.request('GET', '/api/console/audit?limit=0')).status, 400);
    await shot(page, 'staff-audit-desktop');
    assert.deepEqual(problems(), []);
  });

  it('exports: CSV for Excel (BOM, CRLF) that reads back as the API answers, IDs masked', async () => {
    const { page, problems } = desk;
    await go(page, 'exports', '#export-list');
    const got = await page.evaluate(async () => {
      const out = {};
      for (const a of document.querySelectorAll('#export-list a')) {
        const r = await fetch(a.getAttribute('href'));
        out[a.getAttribute('download')] = { status: r.status, type: r.headers.get('content-type'), bytes: [...new Uint8Array(await r.arrayBuffer())] };
      }
      return out;
    });
    assert.deepEqual(Object.keys(got).sort(), ['appeals.csv', 'applications.csv', 'moves.csv', 'review.csv', 'seats.csv']);
    const text = {};
    for (const [name, x] of Object.entries(got)) {
      assert.equal(x.status, 200, name);
      assert.match(x.type, /^text\/csv/);
      const buf = Buffer.from(x.bytes);
      assert.deepEqual([...buf.subarray(0, 3)], [0xef, 0xbb, 0xbf], `${name}: UTF-8 BOM`);
      const s = buf.toString('utf8').slice(1);
      assert.ok(s.endsWith('\r\n') && !/[^\r]\n/.test(s), `${name}: CRLF`);
      text[name] = s;
    }
    const apps = parseCsv(text['applications.csv']);
    const head = apps[0];
    const list = (await staff.request('GET', '/api/applications?limit=1000')).json.applications;
    const byReceipt = new Map(apps.slice(1).map((r) => [r[0], Object.fromEntries(head.map((h, i) => [h, r[i]]))]));
    assert.equal(byReceipt.size, list.length);
    for (const a of list) {
      const row = byReceipt.get(a.receipt);
      assert.ok(row, a.receipt);
      assert.equal(row.status, a.status);
      assert.equal(row.masked_id, a.id_number);
      assert.match(row.masked_id, /^\*{14}\d{3}[\dX]$/);
      assert.equal(row.pseudonym, a.pseudonym);
      assert.equal(row.submitted_at, a.submitted_at ?? '');
      assert.equal(row.review_decision, a.application.review?.decision ?? '');
      assert.equal(row.residence_unit, a.application.check?.facts?.residence_unit ?? '');
    }
    const seats = parseCsv(text['seats.csv']);
    const api = (await staff.request('GET', '/api/intake/seats')).json.schools;
    assert.deepEqual(seats.slice(1).map((r) => [r[0], r[1], +r[3], +r[4], +r[5], +r[6]]),
      api.map((s) => [s.school, s.name, s.seats, s.held, s.accepted, s.free]));
    const appeals = parseCsv(text['appeals.csv']);
    assert.equal(appeals.length, 2);
    assert.equal(appeals[1][appeals[0].indexOf('answer')], '经核实，维持原学位安排。');
    assert.equal(parseCsv(text['review.csv']).length, 1, 'nothing waits for review');
    assert.deepEqual(problems(), []);
  });

  it('a school account: its own school on every page, and exports of its own only', async () => {
    const { page, problems } = await b.desktop();
    await page.goto(srv.base + '/staff/');
    await page.fill('#signin input[name=username]', 'school-priv');
    await page.fill('#signin input[name=password]', 'a-long-password-9');
    await page.fill('#signin input[name=code]', await freshTotp(schoolTotp));
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#review-list');
    const hidden = fams[3].receipt; // placed elsewhere and never listed this school
    for (const [hash, ready] of [['review', '#review-list p'], ['seats', '#seats-source'], ['exports', '#export-list']]) {
      await go(page, hash, ready);
      assert.ok(!(await page.textContent('main')).includes(hidden), `#${hash}`);
    }
    await go(page, 'seats', '#seats-source');
    assert.deepEqual(await page.$$eval('main tbody tr', (trs) => trs.length), 1, 'its own school only');
    assert.equal(await page.$('#map'), null);
    await go(page, 'exports', '#export-list');
    const links = await page.$$eval('#export-list a', (as) => as.map((a) => a.getAttribute('download')));
    assert.deepEqual(links, ['applications.csv', 'review.csv', 'seats.csv']);
    const csv = await page.evaluate(async () => (await fetch('/api/console/export/applications.csv')).text());
    assert.ok(!csv.includes(hidden), 'the export holds its own applicants only');
    for (const f of fams.slice(0, 3)) assert.ok(csv.includes(f.receipt));
    const moves = await page.evaluate(async () => (await fetch('/api/console/export/moves.csv')).status);
    assert.equal(moves, 403);
    const audit = await page.evaluate(async () => (await fetch('/api/console/audit')).status);
    assert.equal(audit, 403);
    assert.deepEqual(problems(), []);
  });

  it('a staff member changes the password on the page: weak ones refused, then every session of the account ends', async () => {
    const other = new Client(srv); // the same account signed in elsewhere
    const li = await other.request('POST', '/api/staff/login', {
      json: { username: 'school-priv', password: 'a-long-password-9', code: await freshTotp(schoolTotp) },
    });
    assert.equal(li.status, 200, li.text);
    const { page, problems } = await b.desktop();
    await page.goto(srv.base + '/staff/');
    await page.fill('#signin input[name=username]', 'school-priv');
    await page.fill('#signin input[name=password]', 'a-long-password-9');
    await page.fill('#signin input[name=code]', await freshTotp(schoolTotp));
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#tabs a[href="#password"]');
    await go(page, 'password', '#password-form');
    await page.fill('#password-form input[name=old_password]', 'a-long-password-9');
    await page.fill('#password-form input[name=new_password]', 'qwertyuiop2027');
    await page.fill('#password-form input[name=new_password_again]', 'qwertyuiop2027');
    await page.fill('#password-form input[name=code]', '000000'); // the policy answers first
    await page.click('#password-form button[type=submit]');
    await page.waitForSelector('#password-form .error[data-field=new_password]:not(:empty)');
    assert.match(await page.textContent('#password-form .error[data-field=new_password]'), /常见密码/);
    await page.fill('#password-form input[name=new_password]', 'orchid-ferry-lamp-61');
    await page.fill('#password-form input[name=new_password_again]', 'orchid-ferry-lamp-61');
    await page.fill('#password-form input[name=code]', await freshTotp(schoolTotp));
    await page.click('#password-form button[type=submit]');
    await page.waitForSelector('#signin .note');
    assert.match(await page.textContent('#signin .note'), /密码已修改/);
    assert.equal((await other.request('GET', '/api/me')).status, 401, 'the other session ended too');
    await page.fill('#signin input[name=username]', 'school-priv');
    await page.fill('#signin input[name=password]', 'orchid-ferry-lamp-61');
    await page.fill('#signin input[name=code]', await freshTotp(schoolTotp));
    await page.click('#signin button[type=submit]');
    await page.waitForSelector('#review-list');
    assert.deepEqual(problems(), []);
  });

  it('switches to English and remembers it', async () => {
    const { page, problems } = desk;
    await go(page, 'seats', '#seats-source');
    await page.click('[data-lang-switch]');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.reload();
    await page.waitForSelector('#seats-source');
    assert.match(await page.textContent('#tabs'), /Seats/);
    assert.match(await page.textContent('#seats-source'), /published/);
    assert.deepEqual(problems(), []);
  });
});
