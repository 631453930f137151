// family.test.mjs - the family portal (web/family/) in a phone-sized browser
// against the real server, from sign-in to an accepted seat:
//
//   sign in with a code (from the demo outbox) -> ID numbers checked as they
//   are typed, a child born after the cutoff warned of (not refused) -> two
//   children applied for, each address found by typing part of its name and
//   chosen, a private school chosen from the list: one whose claims match the
//   uploaded records (a one-school catchment), one whose do not (the reason
//   shown, manual review; a multi-school catchment ordered by keyboard) ->
//   the status follows the review -> (staff, through the API: commit, close
//   the window, freeze, draw, run, publish) -> the result with the
//   explanation and each school's cutoff -> the lottery number computed in
//   the page from the published seed equals the published one -> accept ->
//   appeal and its answer.  No console error and no failed request on any
//   page; screenshots (phone and desktop) into docs/screenshots/.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Client, checkChar, codeFromOutbox, randomPhone, startServer, staffLogin } from '../e2e/harness.mjs';
import { WEB, openBrowser, shot } from './harness.mjs';

const RUXUE = process.env.RUXUE;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const id = (d17) => d17 + checkChar(d17);

function csvRows(text) {
  return text.replace(/^\uFEFF/, '').split('\r\n').filter((l) => l).map((l) => l.split(','));
}

// Both children born before the demo policy's cutoff (2020-08-31).
const child1 = id('51010720200302001');
const child2 = id('51010720200704002');
const g1 = id('51010719880115003');
// born after the cutoff: too young for this intake (warned of, not refused)
const young = id('51010720200905004');
const cert = '川(2020)成都市不动产权第0012345号';

describe('the family portal', () => {
  let srv, staff, b, tmp, district;
  let priv, pubSchool, unitOfPub, nameOfPub, multiUnit, multiSchools;
  let phone; // the phone-sized page: {context, page, problems}
  const receipts = {};

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'rx-family-'));
    district = join(tmp, 'city');
    const g = spawnSync(RUXUE, ['demo', '--out', district, '--students', '100', '--schools', '6', '--seed', '5']);
    assert.equal(g.status, 0, String(g.stderr));
    const schools = csvRows(readFileSync(join(district, 'schools.csv'), 'utf8'));
    const units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1);
    const catchments = csvRows(readFileSync(join(district, 'catchments.csv'), 'utf8')).slice(1);
    priv = schools.slice(1).find((r) => r[2] === 'private')[0];
    const single = catchments.find((c) => !c[1].includes(';'));
    pubSchool = single[1];
    [unitOfPub, nameOfPub] = units.find((u) => u[4] === single[0]);
    // a unit of a multi-school catchment (多校划片) for the second child
    const multi = catchments.find((c) => c[1].includes(';'));
    assert.ok(multi, 'the demo district has a multi-school catchment');
    multiSchools = multi[1].split(';');
    multiUnit = units.find((u) => u[4] === multi[0]);
    srv = await startServer({ extraArgs: ['--web', WEB, '--district', district] });
    staff = await staffLogin(srv);
    // the private school has one seat, so one of the two children waits for it
    const lines = readFileSync(join(district, 'schools.csv'), 'utf8').split('\r\n');
    const k = lines.findIndex((l) => l.startsWith(priv + ','));
    const f = lines[k].split(',');
    f[3] = '1';
    lines[k] = f.join(',');
    const up = await staff.request('PUT', '/api/district/schools.csv', { body: lines.join('\r\n') });
    assert.equal(up.status, 200, up.text);
    // the records: the first child and guardian 1 registered at the home guardian 1 owns
    const files = {
      'hukou.csv': `id_number,unit,since,household\r\n${child1},${unitOfPub},2021-01-01,H1\r\n${g1},${unitOfPub},2015-06-01,H1\r\n`,
      'property.csv': `certificate,unit,owner_id_number\r\n${cert},${unitOfPub},${g1}\r\n`,
    };
    for (const [name, body] of Object.entries(files)) {
      const r = await staff.request('PUT', `/api/records/${name}`, { body });
      assert.equal(r.status, 200, `${name}: ${r.text}`);
    }
    b = await openBrowser();
    phone = await b.phone();
  });
  after(async () => {
    await b?.close();
    await srv?.cleanup();
    if (tmp && !process.env.RUXUE_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
  });

  const heading = (page) => page.locator('main h2').first().textContent();
  // the portal is one page whose views follow the hash: wait for the view asked for
  const view = (page, v) => page.waitForSelector(`main[data-view="${v}"]`);
  // the catchment's schools as the form lists them, in order
  const catchmentList = (page) => page.$$eval('#catchment-list li', (els) => els.map((e) => e.dataset.school));
  /**
   * Find an address by typing part of its name in the residence field, as a
   * family does; returns the radio button of the unit, once listed.
   */
  async function searchUnit(page, name, unit) {
    await page.fill('#c-residence_unit', '');
    // part of the name: its first two characters (the list then holds several units)
    await page.locator('#c-residence_unit').pressSequentially(name.slice(0, 2), { delay: 30 });
    const radio = page.locator(`#unit-options input[type=radio][value="${unit}"]`);
    await radio.waitFor();
    assert.match(await page.textContent('#c-residence_unit-status'), /找到 \d+ 个地址/);
    return radio;
  }

  it('the front page links to the three portals', async () => {
    const { page, problems } = await b.desktop();
    await page.goto(srv.base + '/');
    await page.waitForSelector('#status:not(:empty)');
    for (const [sel, href] of [['#to-family', '/family/'], ['#to-staff', '/staff/'], ['#to-public', '/public/']])
      assert.equal(await page.getAttribute(sel, 'href'), href);
    await shot(page, 'home-desktop');
    assert.deepEqual(problems(), []);
    await page.context().close();
  });

  it('a family signs in on a phone with a code, by keyboard', async () => {
    const { page, problems } = phone;
    await page.goto(srv.base + '/family/');
    await page.waitForSelector('#phone');
    assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
    assert.match(await heading(page), /登录/);
    // a wrong number is refused next to the field, before anything is sent
    await page.fill('#phone', '12345');
    await page.press('#phone', 'Enter');
    await page.waitForSelector('#phone-err:not(:empty)');
    assert.equal(await page.getAttribute('#phone', 'aria-invalid'), 'true');
    await shot(page, 'family-signin-phone');
    const number = randomPhone();
    await page.fill('#phone', number);
    await page.press('#phone', 'Enter');
    await page.waitForSelector('#f-code:not([hidden])');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'code', 'the code field takes the focus');
    // a wrong code is shown next to the code field
    const code = await codeFromOutbox(staff, number);
    assert.match(code, /^\d{6}$/);
    await page.keyboard.type(code === '000000' ? '111111' : '000000');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#code-err:not(:empty)');
    await page.fill('#code', code);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => /我的孩子/.test(document.querySelector('main h2')?.textContent || ''));
    assert.equal(await page.isVisible('#signout'), true);
    assert.deepEqual(problems(), []);
  });

  it('the application form asks what the policy uses, and checks ID numbers as they are typed', async () => {
    const { page, problems } = phone;
    await page.click('#add');
    await view(page, 'new');
    assert.match(await page.textContent('#no-advantage'), /提交时间先后不影响录取结果/);
    // every field has its label
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('#app-form input, #app-form select, #app-form textarea')]
      .filter((el) => !el.labels || el.labels.length === 0).map((el) => el.id));
    assert.deepEqual(unlabelled, []);
    const form = (await new Client(srv).request('GET', '/api/form')).json;
    for (const c of form.claims) assert.ok(await page.isVisible(`#c-${c.field}`), c.field);
    // what the family chooses from comes from the form: the private schools and the priority groups
    assert.deepEqual(await page.$$eval('#pc-0 option', (els) => els.map((e) => e.value).filter(Boolean)),
      form.private_schools.map((x) => x.id));
    if (form.claims.some((c) => c.field === 'priority_group'))
      assert.deepEqual(await page.$$eval('#c-priority_group option', (els) => els.map((e) => e.value)), ['', ...form.priority_groups]);
    // a child born after the cutoff: warned next to the ID number (in Chinese and English), not refused
    assert.equal(form.cutoff_birth_date, '2020-08-31');
    await page.fill('#id_number', young);
    await page.waitForSelector('#id_number-age:not(:empty)');
    assert.match(await page.textContent('#id_number-age'), /2020-09-05.*晚于.*2020-08-31.*年龄不够.*仍可以提交/);
    assert.equal(await page.textContent('#id_number-err'), '');
    assert.equal(await page.getAttribute('#id_number', 'aria-invalid'), null);
    assert.match(await page.getAttribute('#id_number', 'aria-describedby'), /id_number-age/);
    await shot(page, 'family-form-young-phone');
    await page.click('[data-lang-switch]');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    assert.match(await page.textContent('#id_number-age'), /too young for this intake.*ineligible/);
    await page.click('[data-lang-switch]');
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    // born on or before the cutoff: no warning
    await page.fill('#id_number', child1);
    assert.equal(await page.textContent('#id_number-age'), '');
    await page.fill('#id_number', '');
    // a mistyped check character shows next to the field as soon as it is typed
    const wrong = child1.slice(0, 17) + (child1[17] === '0' ? '1' : '0');
    await page.locator('#id_number').pressSequentially(wrong);
    await page.waitForSelector('#id_number-err:not(:empty)');
    assert.match(await page.textContent('#id_number-err'), /校验码/);
    // an impossible birth date too, before 18 characters
    await page.fill('#g1', '51010719880230');
    await page.waitForSelector('#g1-err:not(:empty)');
    assert.match(await page.textContent('#g1-err'), /不是真实日期/);
    // submitting keeps them there and sends nothing
    await page.click('#submit');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'id_number');
    await shot(page, 'family-form-errors-phone');
    assert.deepEqual(problems(), []);
  });

  it('the first child: every claim matches the records; the receipt and the facts are shown', async () => {
    const { page, problems } = phone;
    await page.fill('#child_name', '王小明');
    await page.fill('#id_number', child1);
    await page.fill('#g1', g1);
    assert.equal(await page.textContent('#id_number-err'), '');
    assert.equal(await page.textContent('#g1-err'), '');
    const radio = await searchUnit(page, nameOfPub, unitOfPub);
    await radio.check();
    await page.waitForSelector('#unit-chosen:not([hidden])');
    assert.equal(await page.textContent('#unit-chosen-name'), nameOfPub);
    assert.match(await page.textContent('#unit-chosen-id'), new RegExp(unitOfPub));
    // one school in the catchment: shown as the school the child is zoned to, nothing to order
    assert.match(await page.textContent('#zoned-school'), new RegExp(pubSchool));
    assert.equal(await page.locator('#catchment-list').count(), 0);
    // every field has its label, the addresses found too
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('#app-form input, #app-form select, #app-form textarea')]
      .filter((el) => !el.labels || el.labels.length === 0).map((el) => el.id || el.name));
    assert.deepEqual(unlabelled, []);
    await page.check('#c-hukou');
    await page.fill('#c-property_certificate', cert);
    // a private school from the list; a school chosen once cannot be chosen again
    await page.selectOption('#pc-0', priv);
    assert.equal(await page.locator(`#pc-1 option[value="${priv}"]`).isDisabled(), true);
    await shot(page, 'family-form-phone');
    await page.click('#submit');
    await page.waitForSelector('#submitted-banner');
    const receipt = (await page.textContent('#receipt')).trim();
    assert.match(receipt, /^RX-/);
    receipts.first = receipt;
    const outcomes = await page.$$eval('.finding', (els) => els.map((e) => e.dataset.outcome));
    assert.ok(outcomes.length >= 3, String(outcomes));
    assert.ok(outcomes.every((o) => o === 'ok' || o === 'info'), String(outcomes));
    assert.match(await page.textContent('.facts'), new RegExp(unitOfPub));
    assert.match(await page.textContent('main'), /所有事实与登记记录一致/);
    // hukou and property at the same address of the catchment: category A (房户一致)
    assert.match(await page.textContent('#standing'), /类别 A（房户一致）/);
    assert.match(await page.textContent('main'), /提交时间先后不影响录取结果/);
    await shot(page, 'family-submitted-phone');
    // the ID number is never shown in full
    assert.ok(!(await page.content()).includes(child1));
    assert.deepEqual(problems(), []);
  });

  it('the second child: the claims do not match; the reason and what to do are shown', async () => {
    const { page, problems } = phone;
    await page.goto(srv.base + '/family/#/new');
    await view(page, 'new');
    await page.fill('#child_name', '王小红');
    await page.fill('#id_number', child2);
    await page.fill('#g1', g1);
    // the address by keyboard: type, arrow down into the list, arrow to the unit, Enter
    await searchUnit(page, multiUnit[1], multiUnit[0]);
    const listed = await page.$$eval('#unit-options input[type=radio]', (els) => els.map((e) => e.value));
    await page.press('#c-residence_unit', 'ArrowDown');
    for (let k = 0; k < listed.indexOf(multiUnit[0]); k++) await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.activeElement.value), multiUnit[0]);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#unit-chosen:not([hidden])');
    assert.equal(await page.textContent('#unit-chosen-name'), multiUnit[1]);
    assert.equal(await page.locator('#submitted-banner').count(), 0, 'Enter on an address does not send the form');
    // several schools in the catchment (多校划片): the family orders them, by keyboard
    assert.deepEqual(await catchmentList(page), multiSchools);
    assert.match(await page.textContent('#co-multi'), /多校划片/);
    await page.focus(`#catchment-list button[data-move="1"][data-id="${multiSchools[0]}"]`);
    await page.keyboard.press('Enter');
    const ordered = [multiSchools[1], multiSchools[0], ...multiSchools.slice(2)];
    assert.deepEqual(await catchmentList(page), ordered);
    assert.equal(await page.evaluate(() => document.activeElement.dataset.id), multiSchools[0], 'the focus stays on the school moved');
    assert.match(await page.textContent('#catchment-status'), /现在是第 2 位/);
    await page.check('#c-hukou');
    await page.selectOption('#pc-0', priv);
    await shot(page, 'family-form-order-phone');
    await page.click('#submit');
    await page.waitForSelector('#submitted-banner');
    receipts.second = (await page.textContent('#receipt')).trim();
    // what was sent: the unit chosen, the order given, the private school chosen
    const sent = await page.evaluate((r) => fetch(`/api/applications/${r}`).then((x) => x.json()), receipts.second);
    assert.equal(sent.application.claims.residence_unit, multiUnit[0]);
    assert.deepEqual(sent.application.catchment_order, ordered);
    assert.deepEqual(sent.application.private_choices, [priv]);
    const codes = await page.$$eval('.finding', (els) => els.map((e) => e.dataset.code));
    assert.ok(codes.includes('hukou_not_found'), String(codes));
    const hk = page.locator('.finding[data-code=hukou_not_found]');
    assert.match(await hk.textContent(), /户籍记录中没有该儿童/);
    assert.match(await hk.textContent(), /转人工核对/);
    assert.match(await page.textContent('main'), /不需要做任何事/);
    await shot(page, 'family-mismatch-phone');
    // the same child again is refused next to its ID number
    await page.goto(srv.base + '/family/#/new');
    await view(page, 'new');
    await page.fill('#id_number', child2);
    await page.fill('#g1', g1);
    await page.click('#submit');
    await page.waitForSelector('#id_number-err:not(:empty)');
    assert.match(await page.textContent('#id_number-err'), /已经有一份有效的申请/);
    assert.deepEqual(problems(), []);
  });

  it('my children lists both; the status follows the review; the language switch is remembered', async () => {
    const { page, problems } = phone;
    const d = await staff.request('POST', `/api/applications/${receipts.second}/review`, {
      json: { decision: 'verified', note: '户口本原件已核验' },
    });
    assert.equal(d.status, 200, d.text);
    await page.goto(srv.base + '/family/#/');
    await view(page, 'list');
    assert.deepEqual((await page.$$eval('li.app', (els) => els.map((e) => e.dataset.receipt))).sort(),
      [receipts.first, receipts.second].sort());
    await shot(page, 'family-children-phone');
    await page.goto(srv.base + `/family/#/app/${receipts.second}`);
    await view(page, `app:${receipts.second}`);
    assert.match(await page.textContent('ol.steps'), /人工核对：已核实/);
    assert.match(await page.textContent('ol.steps'), /户口本原件已核验/);
    await shot(page, 'family-status-phone');
    await page.click('[data-lang-switch]');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    assert.match(await page.textContent('ol.steps'), /manual review: verified/);
    await page.reload();
    await page.waitForSelector('ol.steps');
    assert.equal(await page.getAttribute('html', 'lang'), 'en');
    assert.match(await heading(page), /王小红/);
    assert.match(await page.textContent('ol.steps'), /Application submitted/);
    await shot(page, 'family-status-en-phone');
    await page.click('[data-lang-switch]');
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    assert.deepEqual(problems(), []);
  });

  it('(staff, through the API) commit, close the window, freeze, draw, run, publish', async () => {
    const c = await staff.request('POST', '/api/intake/commit');
    assert.equal(c.status, 200, c.text);
    const now = Date.now();
    const w = await staff.request('PUT', '/api/window', { json: { opens: iso(now - 86400e3), closes: iso(now + 1500) } });
    assert.equal(w.status, 200, w.text);
    await sleep(2000);
    const fz = await staff.request('POST', '/api/intake/freeze');
    assert.equal(fz.status, 200, fz.text);
    assert.equal(fz.json.applicants, 2);
    const dr = await staff.request('POST', '/api/intake/draw', { json: { entropy: '2027-06-30 福彩3D 第2027170期 开奖号码 4 7 1' } });
    assert.equal(dr.status, 200, dr.text);
    const run = await staff.request('POST', '/api/intake/run');
    assert.equal(run.status, 200, run.text);
    const pub = await staff.request('POST', '/api/intake/publish', { json: { deadline: iso(Date.now() + 2 * 86400e3) } });
    assert.equal(pub.status, 200, pub.text);
  });

  it('the result: the seat, every school explained with its cutoff, the lottery number checked in the page, accepted', async () => {
    const { page, problems } = phone;
    await page.goto(srv.base + `/family/#/app/${receipts.first}`);
    await view(page, `app:${receipts.first}`);
    assert.match(await page.textContent('ol.steps'), /公开摇号/);
    assert.equal(await page.locator('ol.steps li.done').count() >= 6, true);
    await page.click('ol.steps a[href^="#/result/"]');
    await view(page, `result:${receipts.first}`);
    await page.waitForSelector('#lottery-match[data-same]');
    const api = await new Client(srv).request('GET', '/api/intake');
    assert.equal(await page.textContent('#seed'), api.json.draw.seed);
    assert.equal(await page.getAttribute('#lottery-match', 'data-same'), 'yes', await page.textContent('#lottery'));
    const published = (await page.textContent('#lottery-published')).trim();
    assert.match(published, /^0\.\d{6}$/);
    assert.ok((await page.textContent('#lottery-computed')).startsWith(published));
    assert.match(await page.textContent('#lottery-match'), /一致/);
    // each school on the list with its sentence and cutoff
    const rows = await page.$$eval('#explanation li', (els) => els.map((e) => ({ school: e.dataset.school, text: e.textContent })));
    assert.ok(rows.some((r) => r.school === priv), JSON.stringify(rows));
    for (const r of rows) assert.match(r.text, /该校录取线/);
    // one seat at the private school: one of the two children waits for it
    const res1 = await page.textContent('#offer');
    assert.match(res1, /待确认/);
    assert.match(await page.textContent('#deadline'), /^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    await shot(page, 'family-result-phone');
    await page.click('#accept');
    await page.waitForFunction(() => /已接受/.test(document.querySelector('#offer-status')?.textContent || ''));
    assert.equal(await page.getAttribute('#notice', 'href'), `/notice/?receipt=${encodeURIComponent(receipts.first)}`);
    assert.equal(await page.isVisible('#accept'), false);
    await shot(page, 'family-accepted-phone');
    assert.deepEqual(problems(), []);
  });

  it('the other child: waitlist or seat shown; decline asks first; an appeal is answered', async () => {
    const { page, problems } = phone;
    await page.goto(srv.base + `/family/#/result/${receipts.second}`);
    await view(page, `result:${receipts.second}`);
    await page.waitForSelector('#lottery-match[data-same]');
    assert.equal(await page.getAttribute('#lottery-match', 'data-same'), 'yes');
    // exactly one of the two is at the private school; the other is first in its line
    const api1 = await new Client(srv).request('GET', '/api/intake');
    assert.equal(api1.json.phase, 'published');
    const waits = await page.locator('#waitlists li').count();
    const first = await staff.request('GET', `/api/applications/${receipts.first}/result`);
    const second = await staff.request('GET', `/api/applications/${receipts.second}/result`);
    assert.equal([first.json, second.json].filter((r) => r.offer.school?.id === priv).length, 1);
    assert.equal(waits, second.json.waitlists.length);
    if (waits) assert.match(await page.textContent('#waitlists'), /第 1 位/);
    // decline asks before it does anything, and "no" keeps the seat
    await page.click('#decline');
    assert.equal(await page.isVisible('#confirm'), true);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'decline-no');
    await page.click('#decline-no');
    assert.equal(await page.isVisible('#confirm'), false);
    assert.equal((await staff.request('GET', `/api/applications/${receipts.second}/result`)).json.offer.status, 'offered');
    // an appeal: empty is refused next to the field; sent; answered; read
    await page.click('#appeal-form button[type=submit]');
    await page.waitForSelector('#appeal-text-err:not(:empty)');
    await page.fill('#appeal-text', '孩子的户籍已在派出所迁入，请核实。');
    await page.click('#appeal-form button[type=submit]');
    await page.waitForSelector('#appeals .appeal');
    const open = await staff.request('GET', '/api/appeals?status=open');
    const mine = open.json.appeals.find((a) => a.receipt === receipts.second);
    assert.ok(mine, open.text);
    const ans = await staff.request('POST', `/api/appeals/${encodeURIComponent(mine.id)}/answer`, {
      json: { answer: '经核实，结果维持不变；如有新的情况请联系教育局。' },
    });
    assert.equal(ans.status, 200, ans.text);
    await page.reload();
    await page.waitForSelector('#appeals .answer');
    assert.match(await page.textContent('#appeals .answer'), /经核实/);
    await shot(page, 'family-appeal-phone');
    assert.deepEqual(problems(), []);
  });

  it('the same pages on a desktop', async () => {
    const desk = await b.desktop();
    await desk.context.addCookies(await phone.context.cookies());
    const { page, problems } = desk;
    await page.goto(srv.base + '/family/#/');
    await view(page, 'list');
    await shot(page, 'family-children-desktop');
    await page.goto(srv.base + `/family/#/app/${receipts.first}`);
    await view(page, `app:${receipts.first}`);
    await shot(page, 'family-status-desktop');
    await page.goto(srv.base + `/family/#/result/${receipts.first}`);
    await view(page, `result:${receipts.first}`);
    await page.waitForSelector('#lottery-match[data-same]');
    assert.equal(await page.getAttribute('#lottery-match', 'data-same'), 'yes');
    await shot(page, 'family-result-desktop');
    await page.goto(srv.base + '/family/#/new');
    await view(page, 'new');
    await shot(page, 'family-form-desktop');
    await page.click('#signout');
    await view(page, 'signin');
    await shot(page, 'family-signin-desktop');
    assert.deepEqual(problems(), []);
    await desk.context.close();
  });
});
