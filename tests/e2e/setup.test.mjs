// setup.test.mjs - district setup by staff, the application window, editing
// and withdrawing, and what each kind of staff account may see.
//
// Starts the real server with a demo district written by `ruxue demo` and
// imported at start (--district), then walks what the bureau and families
// do: staff upload files (a bad one is refused whole with its line), set
// the window; a family applies with choices checked against the district,
// edits, submits, withdraws and applies again for the same child (the same
// pseudonym); a school account sees only applications naming its school.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Client, checkChar, familySignIn, idemKey, randomChildId, startServer, staffLogin, staffSignIn } from './harness.mjs';

const RUXUE = process.env.RUXUE;

function csvRows(text) {
  return text.replace(/^\uFEFF/, '').split('\r\n').filter((l) => l).map((l) => l.split(','));
}

describe('setup, window, editing, school rights', () => {
  let srv, staff, district, schools;
  let schoolTotp; // school-a's TOTP secret, from its creation
  before(async () => {
    const tmp = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'rx-setup-'));
    district = join(tmp, 'city');
    const g = spawnSync(RUXUE, ['demo', '--out', district, '--students', '300', '--schools', '20', '--seed', '3']);
    assert.equal(g.status, 0, String(g.stderr));
    schools = csvRows(readFileSync(join(district, 'schools.csv'), 'utf8'));
    srv = await startServer({ extraArgs: ['--district', district] });
    staff = await staffLogin(srv);
  });
  after(async () => {
    await srv?.cleanup();
  });

  const byKind = (kind) => schools.slice(1).filter((r) => r[2] === kind).map((r) => r[0]);

  it('the imported district is there, with each file hashed', async () => {
    const r = await staff.request('GET', '/api/district');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.district.schools, 20);
    for (const f of ['policy.ini', 'schools.csv', 'catchments.csv', 'address_units.csv'])
      assert.match(r.json.files[f].sha256, /^[0-9a-f]{64}$/);
  });

  it('a bad upload is refused whole with its line; check=1 stores nothing; a good one is stored', async () => {
    const text = readFileSync(join(district, 'schools.csv'), 'utf8');
    const lines = text.split('\r\n');
    const f = lines[3].split(',');
    f[3] = '-5';
    lines[3] = f.join(',');
    const bad = await staff.request('PUT', '/api/district/schools.csv', { body: lines.join('\r\n') });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.json.error.code, 'invalid_file');
    assert.equal(bad.json.error.line, 4);
    assert.match(bad.json.error.message, /schools\.csv:4: seats/);
    const before = await staff.request('GET', '/api/district');
    const check = await staff.request('PUT', '/api/district/schools.csv?check=1', { body: text });
    assert.equal(check.status, 200, check.text);
    assert.equal(check.json.applied, false);
    const mid = await staff.request('GET', '/api/district');
    assert.equal(mid.json.files['schools.csv'].updated_at, before.json.files['schools.csv'].updated_at);
    const ok = await staff.request('PUT', '/api/district/schools.csv', { body: text });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.applied, true);
    const unknown = await staff.request('PUT', '/api/district/students.csv', { body: 'id\r\n' });
    assert.equal(unknown.status, 404);
    const nocsrf = await staff.request('PUT', '/api/district/schools.csv', { body: text, csrf: false });
    assert.equal(nocsrf.status, 403);
  });

  it('families cannot upload or set the window', async () => {
    const fam = await familySignIn(srv, staff);
    const r = await fam.request('PUT', '/api/district/schools.csv', { body: 'x' });
    assert.equal(r.status, 403);
    const w = await fam.request('PUT', '/api/window', { json: { opens: '2027-05-01T08:00:00+08:00', closes: '2027-05-31T17:00:00+08:00' } });
    assert.equal(w.status, 403);
  });

  it('applications: choices checked against the district; edit, submit, withdraw, apply again', async () => {
    const fam = await familySignIn(srv, staff);
    const child = randomChildId();
    const priv = byKind('private');
    const pub = byKind('public');
    const wrong = await fam.request('POST', '/api/applications', {
      json: { id_number: child, private_choices: [pub[0]] },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.json.error.code, 'unknown_school');
    assert.equal(wrong.json.error.field, 'private_choices');
    const unit = await fam.request('POST', '/api/applications', {
      json: { id_number: child, claims: { residence_unit: 'NO-SUCH-UNIT' } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(unit.status, 422, unit.text);
    assert.equal(unit.json.error.code, 'unknown_unit');
    const made = await fam.request('POST', '/api/applications', {
      json: { id_number: child, private_choices: [priv[0]], catchment_order: [] },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.status, 'draft');
    const receipt = made.json.receipt;
    const edited = await fam.request('PUT', `/api/applications/${receipt}`, {
      json: { private_choices: [priv[1] ?? priv[0]], child_name: '李小花' },
    });
    assert.equal(edited.status, 200, edited.text);
    assert.equal(edited.json.application.child_name, '李小花');
    const idChange = await fam.request('PUT', `/api/applications/${receipt}`, { json: { id_number: child } });
    assert.equal(idChange.status, 400);
    assert.equal(idChange.json.error.code, 'unknown_field');
    const sub = await fam.request('POST', `/api/applications/${receipt}/submit`);
    assert.equal(sub.status, 200, sub.text);
    assert.equal(sub.json.status, 'submitted');
    assert.ok(sub.json.submitted_at);
    const again = await fam.request('POST', `/api/applications/${receipt}/submit`);
    assert.equal(again.status, 200);
    assert.equal(again.json.submitted_at, sub.json.submitted_at);
    const other = await familySignIn(srv, staff);
    const stolen = await other.request('POST', `/api/applications/${receipt}/withdraw`);
    assert.equal(stolen.status, 404);
    const wd = await fam.request('POST', `/api/applications/${receipt}/withdraw`);
    assert.equal(wd.status, 200, wd.text);
    assert.equal(wd.json.status, 'withdrawn');
    const editWithdrawn = await fam.request('PUT', `/api/applications/${receipt}`, { json: { child_name: 'x' } });
    assert.equal(editWithdrawn.status, 409);
    const reapply = await fam.request('POST', '/api/applications', {
      json: { id_number: child, submit: true },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(reapply.status, 201, reapply.text);
    assert.notEqual(reapply.json.receipt, receipt);
    assert.equal(reapply.json.pseudonym, made.json.pseudonym, 'the same child, the same pseudonym');
  });

  it('the window: refused outside it with the dates, open again when set', async () => {
    const fam = await familySignIn(srv, staff);
    const bad = await staff.request('PUT', '/api/window', { json: { opens: 'tomorrow', closes: '2027-05-31T17:00:00+08:00' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.field, 'opens');
    const past = await staff.request('PUT', '/api/window', {
      json: { opens: '2025-05-01T08:00:00+08:00', closes: '2025-05-31T17:00:00+08:00' },
    });
    assert.equal(past.status, 200, past.text);
    assert.equal(past.json.open, false);
    const pub = await new Client(srv).request('GET', '/api/window');
    assert.equal(pub.json.closes, '2025-05-31T17:00:00+08:00');
    const closed = await fam.request('POST', '/api/applications', {
      json: { id_number: randomChildId() },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(closed.status, 409);
    assert.equal(closed.json.error.code, 'window_closed');
    assert.match(closed.json.error.message, /2025-05-31T17:00:00\+08:00/);
    const now = Date.now();
    const iso = (t) => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const open = await staff.request('PUT', '/api/window', { json: { opens: iso(now - 3600e3), closes: iso(now + 3600e3) } });
    assert.equal(open.status, 200, open.text);
    assert.equal(open.json.open, true);
  });

  it('a school account sees only applications that name its school; staff list pages', async () => {
    const priv = byKind('private');
    const mine = priv[0], theirs = priv[1];
    assert.ok(theirs, 'the demo district has two private schools');
    const mk = await staff.request('POST', '/api/staff', {
      json: { username: 'school-a', password: 'a-long-password-1', role: 'school', school: mine },
    });
    assert.equal(mk.status, 201, mk.text);
    schoolTotp = mk.json.totp.secret;
    const dup = await staff.request('POST', '/api/staff', {
      json: { username: 'school-a', password: 'a-long-password-1', role: 'school', school: mine },
    });
    assert.equal(dup.status, 409);
    const nosuch = await staff.request('POST', '/api/staff', {
      json: { username: 'school-x', password: 'a-long-password-1', role: 'school', school: 'NOPE' },
    });
    assert.equal(nosuch.status, 422);
    const fam = await familySignIn(srv, staff);
    const a = await fam.request('POST', '/api/applications', {
      json: { id_number: randomChildId(), private_choices: [mine], submit: true },
      headers: { 'Idempotency-Key': idemKey() },
    });
    const b = await fam.request('POST', '/api/applications', {
      json: { id_number: randomChildId(), private_choices: [theirs], submit: true },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(a.status, 201, a.text);
    assert.equal(b.status, 201, b.text);
    const school = new Client(srv);
    const login = await staffSignIn(school, 'school-a', 'a-long-password-1', schoolTotp);
    assert.equal(login.status, 200, login.text);
    assert.equal(login.json.role, 'school');
    assert.equal((await school.request('GET', `/api/applications/${a.json.receipt}`)).status, 200);
    const hidden = await school.request('GET', `/api/applications/${b.json.receipt}`);
    assert.equal(hidden.status, 404, 'another school\'s applicant is not found');
    const list = await school.request('GET', '/api/applications?limit=1000');
    assert.equal(list.status, 200, list.text);
    const receipts = list.json.applications.map((x) => x.receipt);
    assert.ok(receipts.includes(a.json.receipt));
    assert.ok(!receipts.includes(b.json.receipt));
    const up = await school.request('PUT', '/api/district/schools.csv', { body: 'x' });
    assert.equal(up.status, 403);
    const noCity = await school.request('POST', '/api/staff', {
      json: { username: 'sneaky', password: 'a-long-password-1', role: 'city' },
    });
    assert.equal(noCity.status, 403);
    // the city account pages through everything
    let after = 0, seen = 0;
    for (;;) {
      const p = await staff.request('GET', `/api/applications?limit=2&after=${after}`);
      assert.equal(p.status, 200, p.text);
      seen += p.json.applications.length;
      if (p.json.next === null) break;
      after = p.json.next;
    }
    assert.ok(seen >= 3);
  });
  it('records: uploaded sealed, claims checked with reason codes, mismatches go to review', async () => {
    const units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1).map((r) => r[0]);
    const [u1, u2] = units;
    const id = (d17) => d17 + checkChar(d17);
    const child = id('51010720200302001'), child2 = id('51010720200704002');
    const g1 = id('51010719880115003'), g2 = id('51010719900210004');
    const cert = '川(2020)成都市不动产权第0012345号';
    const files = {
      'hukou.csv': `id_number,unit,since,household\r\n${child},${u1},2021-01-01,H1\r\n${g1},${u1},2015-06-01,H1\r\n`,
      'property.csv': `certificate,unit,owner_id_number\r\n${cert},${u1},${g1}\r\n`,
      'permits.csv': `id_number,unit,valid_until\r\n${g2},${u2},2020-01-01\r\n`,
      'insurance.csv': `id_number,months\r\n${g1},36\r\n`,
    };
    const bad = await staff.request('PUT', '/api/records/hukou.csv', {
      body: `id_number,unit,since\r\n${child},${u1},2021-13-01\r\n`,
    });
    assert.equal(bad.status, 422, bad.text);
    assert.equal(bad.json.error.line, 2);
    assert.ok(!bad.text.includes(child), 'an error never shows a whole ID number');
    for (const [f, body] of Object.entries(files)) {
      const r = await staff.request('PUT', `/api/records/${f}`, { body });
      assert.equal(r.status, 200, `${f}: ${r.text}`);
      assert.equal(r.json.rows, body.trim().split('\r\n').length - 1);
    }
    const list = await staff.request('GET', '/api/records');
    assert.equal(list.json.records['hukou.csv'].rows, 2);
    // the store holds the records sealed: no resident's number in its files
    for (const f of [srv.db, srv.db + '-wal']) {
      let bytes = '';
      try { bytes = readFileSync(f).toString('latin1'); } catch { continue; }
      assert.ok(!bytes.includes(g1), `${f} holds a guardian's ID number in the clear`);
    }

    const fam = await familySignIn(srv, staff);
    const good = await fam.request('POST', '/api/applications', {
      json: { id_number: child, guardians: [g1, g2], submit: true,
        claims: { residence_unit: u1, hukou: true, property_certificate: cert, insurance: 1 } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(good.status, 201, good.text);
    const ck = good.json.application.check;
    assert.equal(ck.review, false, good.text);
    assert.equal(ck.facts.hukou_unit, u1);
    assert.equal(ck.facts.property_unit, u1);
    assert.equal(ck.facts.residence_unit, u1);
    assert.equal(ck.facts.insurance_months, 36);
    assert.ok(ck.findings.every((x) => x.outcome === 'ok' || x.outcome === 'info'), good.text);
    assert.ok(!good.text.includes(g1) && !good.text.includes(g2), 'guardians are shown masked');
    assert.equal(good.json.application.guardians.length, 2);

    const worse = await fam.request('POST', '/api/applications', {
      json: { id_number: child2, guardians: [g1, g2], submit: true,
        claims: { hukou: true, property_certificate: 'NO-SUCH-CERT', permit: 2 } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(worse.status, 201, worse.text);
    const codes = worse.json.application.check.findings.map((x) => x.code);
    for (const c of ['hukou_not_found', 'property_not_found', 'permit_expired'])
      assert.ok(codes.includes(c), `${c} in ${codes}`);
    assert.equal(worse.json.application.check.review, true, 'a failed check goes to manual review');
    const pe = worse.json.application.check.findings.find((x) => x.code === 'permit_expired');
    assert.equal(pe.date, '2020-01-01');
    assert.ok(pe.text_zh && pe.text_en);

    // an edit that fixes a claim is checked again; the guardians stay sealed as sent
    const fixed = await fam.request('PUT', `/api/applications/${worse.json.receipt}`, {
      json: { claims: { property_certificate: cert } },
    });
    assert.equal(fixed.status, 200, fixed.text);
    assert.deepEqual(fixed.json.application.check.findings.map((x) => x.code).filter((c) => c !== 'ok'), []);
    // the evidence side by side: the records' rows next to the claims, numbers masked
    const ev = await staff.request('GET', `/api/applications/${good.json.receipt}/evidence`);
    assert.equal(ev.status, 200, ev.text);
    const rec = ev.json.records;
    assert.equal(ev.json.claims.property_certificate, cert);
    assert.equal(rec.hukou.child.found, true);
    assert.equal(rec.hukou.child.unit, u1);
    assert.equal(rec.hukou.child.since, '2021-01-01');
    assert.equal(rec.hukou.guardians[0].same_household, true);
    assert.equal(rec.property.found, true);
    assert.equal(rec.property.owners[0].role, 'guardian1');
    assert.equal(rec.property.owners[0].id_number, '*'.repeat(14) + g1.slice(14));
    assert.equal(rec.permits.guardians[1].found, true);
    assert.equal(rec.permits.guardians[1].valid, false);
    assert.equal(rec.permits.guardians[1].valid_until, '2020-01-01');
    assert.equal(rec.insurance.guardians[0].months, 36);
    for (const n of [child, g1, g2]) assert.ok(!ev.text.includes(n), 'the evidence shows numbers masked');
    assert.equal((await fam.request('GET', `/api/applications/${good.json.receipt}/evidence`)).status, 403);

    const needGuardian = await fam.request('POST', '/api/applications', {
      json: { id_number: randomChildId(), guardians: [g1], claims: { permit: 2 } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(needGuardian.status, 422, needGuardian.text);
    assert.equal(needGuardian.json.error.code, 'missing_guardian');
  });
  it('manual review: the queue, a decision with a note the family sees, gone from the queue', async () => {
    const fam = await familySignIn(srv, staff);
    const child = randomChildId();
    const g = randomChildId({ region: '510107' }); // any valid number serves as a guardian's here
    const made = await fam.request('POST', '/api/applications', {
      json: { id_number: child, guardians: [g], submit: true, claims: { hukou: true } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.json.application.check.review, true);
    const q = await staff.request('GET', '/api/review?code=hukou_not_found');
    assert.equal(q.status, 200, q.text);
    assert.ok(q.json.applications.some((x) => x.receipt === made.json.receipt), q.text);
    const none = await staff.request('GET', '/api/review?code=permit_expired');
    assert.ok(!none.json.applications.some((x) => x.receipt === made.json.receipt));
    const path = `/api/applications/${made.json.receipt}/review`;
    const noNote = await staff.request('POST', path, { json: { decision: 'verified' } });
    assert.equal(noNote.status, 400);
    assert.equal(noNote.json.error.code, 'missing_note');
    const school = new Client(srv);
    assert.equal((await staffSignIn(school, 'school-a', 'a-long-password-1', schoolTotp)).status, 200);
    const bySchool = await school.request('POST', path, { json: { decision: 'verified', note: 'x' } });
    assert.equal(bySchool.status, 403);
    const ok = await staff.request('POST', path, {
      json: { decision: 'verified', note: '户口本原件已核验（2027-05-03 窗口）' },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.application.review.decision, 'verified');
    const seen = await fam.request('GET', `/api/applications/${made.json.receipt}`);
    assert.equal(seen.json.application.review.note, '户口本原件已核验（2027-05-03 窗口）');
    const after = await staff.request('GET', '/api/review');
    assert.ok(!after.json.applications.some((x) => x.receipt === made.json.receipt));
    const famTries = await fam.request('POST', path, { json: { decision: 'verified', note: 'me' } });
    assert.equal(famTries.status, 403);
  });
  it('dry run: the whole allocation on the submitted applications, nothing official', async () => {
    const all = [];
    for (let after = 0; ;) {
      const p = await staff.request('GET', `/api/applications?limit=1000&after=${after}`);
      all.push(...p.json.applications);
      if (p.json.next === null) break;
      after = p.json.next;
    }
    const submitted = all.filter((a) => a.status === 'submitted').length;
    const r = await staff.request('POST', '/api/intake/dry-run');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.official, false);
    assert.equal(r.json.students, submitted);
    const placed = r.json.placed.private + r.json.placed.catchment + r.json.placed.overflow;
    assert.equal(placed + r.json.unplaced + r.json.ineligible, submitted, r.text);
    assert.match(r.json.digest, /^[0-9a-f]{64}$/);
    assert.equal(r.json.schools.length, 20);
    const fam = await familySignIn(srv, staff);
    assert.equal((await fam.request('POST', '/api/intake/dry-run')).status, 403);
    const school = new Client(srv);
    assert.equal((await staffSignIn(school, 'school-a', 'a-long-password-1', schoolTotp)).status, 200);
    assert.equal((await school.request('POST', '/api/intake/dry-run')).status, 403);
  });
  it('the form asks only for what the policy uses', async () => {
    const form = await new Client(srv).request('GET', '/api/form');
    assert.equal(form.status, 200, form.text);
    const fields = form.json.claims.map((c) => c.field);
    for (const f of ['residence_unit', 'hukou', 'property_certificate', 'permit', 'insurance'])
      assert.ok(fields.includes(f), `${f} in ${fields}`);
    assert.ok(form.json.claims.every((c) => c.label_zh && c.label_en));
    assert.equal(form.json.private_choices, 2);
    // what the form offers to choose from: the policy's groups, the private schools, the cutoff
    assert.deepEqual(form.json.priority_groups, ['military', 'special_needs']);
    assert.deepEqual(form.json.private_schools.map((x) => x.id), byKind('private'));
    assert.equal(form.json.cutoff_birth_date, '2020-08-31');
    const units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1);
    const found = await new Client(srv).request('GET', `/api/form/units?q=${encodeURIComponent(units[0][1])}`);
    assert.equal(found.status, 200, found.text);
    const u = found.json.units.find((x) => x.id === units[0][0]);
    assert.ok(u, found.text);
    const catchment = csvRows(readFileSync(join(district, 'catchments.csv'), 'utf8')).find((c) => c[0] === units[0][4]);
    assert.deepEqual(u.catchment_schools.map((x) => x.id), catchment[1].split(';'));
    assert.equal((await new Client(srv).request('GET', '/api/form/units')).status, 400);
    // a policy without the migrant-children category (居住证 + 社保)
    const original = readFileSync(join(district, 'policy.ini'), 'utf8');
    const lines = original.split('\n');
    const from = lines.findIndex((l) => l.startsWith('[category D]'));
    const to = lines.findIndex((l, i) => i > from && l.startsWith('[category '));
    const without = [...lines.slice(0, from), ...lines.slice(to)].join('\n');
    const up = await staff.request('PUT', '/api/district/policy.ini', { body: without });
    assert.equal(up.status, 200, up.text);
    const form2 = await new Client(srv).request('GET', '/api/form');
    const fields2 = form2.json.claims.map((c) => c.field);
    assert.ok(!fields2.includes('permit') && !fields2.includes('insurance'), String(fields2));
    const fam = await familySignIn(srv, staff);
    const r = await fam.request('POST', '/api/applications', {
      json: { id_number: randomChildId(), guardians: [randomChildId({ region: '510107' })], claims: { insurance: 1 } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(r.status, 422, r.text);
    assert.equal(r.json.error.code, 'not_used_by_policy');
    assert.equal(r.json.error.field, 'insurance');
    const back = await staff.request('PUT', '/api/district/policy.ini', { body: original });
    assert.equal(back.status, 200, back.text);
  });
  it('applications checked before the records arrived are checked again when they do', async () => {
    const units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1).map((r) => r[0]);
    const id = (d17) => d17 + checkChar(d17);
    const child = id('51010720201111005'), g = id('51010719850505006');
    const fam = await familySignIn(srv, staff);
    const made = await fam.request('POST', '/api/applications', {
      json: { id_number: child, guardians: [g], submit: true, claims: { residence_unit: units[2], hukou: true } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(made.status, 201, made.text);
    const codes = (a) => a.application.check.findings.map((x) => x.code);
    assert.ok(codes(made.json).includes('hukou_not_found'), made.text);
    // the public security bureau's new extract has the child
    const hukou = `id_number,unit,since\r\n${child},${units[2]},2020-12-01\r\n${g},${units[2]},2010-01-01\r\n`;
    const before = (await staff.request('GET', '/api/records')).json.rechecks_done;
    const up = await staff.request('PUT', '/api/records/hukou.csv', { body: hukou });
    assert.equal(up.status, 200, up.text);
    let now;
    for (let i = 0; i < 100; i++) {
      const r = await staff.request('GET', '/api/records');
      if (r.json.rechecks_done > before && !r.json.recheck_pending) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    now = await fam.request('GET', `/api/applications/${made.json.receipt}`);
    assert.ok(!codes(now.json).includes('hukou_not_found'), now.text);
    assert.equal(now.json.application.check.facts.hukou_unit, units[2]);
    assert.equal(now.json.updated_at, made.json.updated_at, 'a recheck is not the family\'s edit');
  });
  it('answers carry the documented headers; listing queries are checked', async () => {
    const r = await new Client(srv).request('GET', '/api/health');
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
    assert.match(r.headers.get('content-type'), /^application\/json/);
    for (const q of ['limit=0', 'limit=1001', 'limit=x', 'after=-1'])
      assert.equal((await staff.request('GET', `/api/applications?${q}`)).status, 400, q);
    assert.equal((await staff.request('GET', '/api/review?after=x')).status, 400);
  });

  it('ruxue audit verify: the chain of everything above is intact; a recorded head is found', async () => {
    await srv.stop();
    const ok = spawnSync(RUXUE, ['audit', 'verify', '--db', srv.db], { encoding: 'utf8' });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    const m = /^audit: (\d+) entries, chain intact, head ([0-9a-f]{64})$/m.exec(ok.stdout);
    assert.ok(m, ok.stdout);
    assert.ok(Number(m[1]) > 10, 'uploads, sign-ins and applications are all in it');
    const head = spawnSync(RUXUE, ['audit', 'verify', '--db', srv.db, '--head', m[2]], { encoding: 'utf8' });
    assert.equal(head.status, 0, head.stdout + head.stderr);
    const other = spawnSync(RUXUE, ['audit', 'verify', '--db', srv.db, '--head', '0'.repeat(64)], { encoding: 'utf8' });
    assert.equal(other.status, 1, other.stdout + other.stderr);
    assert.match(other.stdout + other.stderr, /not in the chain/);
    const bad = spawnSync(RUXUE, ['audit', 'verify'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
  });
});
