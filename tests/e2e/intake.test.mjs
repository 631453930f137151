// intake.test.mjs - the whole intake through the API, as the bureau and
// families do it (issue #5, "The intake run"):
//
//   setup (a private school cut to one seat) -> families apply, with claims
//   that match the records and claims that do not (settled in review) ->
//   commit -> the window closes -> dry run -> freeze (setup and reviews
//   refused from here) -> draw (the seed re-derived here from the public
//   records) -> official run (checked) -> publish (checked again, the bundle
//   verified by `ruxue verify`) -> results with explanations and cutoffs ->
//   accept; decline, and the seat goes down the waitlist (the move recorded
//   and notified) -> a deadline passes -> a late child placed by rolling
//   admission -> an appeal answered -> a restart keeps every bit of it ->
//   the audit chain verifies.

import { spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Client, checkChar, familySignIn, idemKey, startServer, staffLogin, staffSignIn } from './harness.mjs';

const RUXUE = process.env.RUXUE;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function csvRows(text) {
  return text.replace(/^\uFEFF/, '').split('\r\n').filter((l) => l).map((l) => l.split(','));
}

// Children born before the demo policy's cutoff (2020-08-31), each unique.
let serial = 0;
function eligibleChildId() {
  serial++;
  const month = 1 + (serial % 8);
  const d17 = `510107${2020}${String(month).padStart(2, '0')}${String(1 + (serial % 27)).padStart(2, '0')}${String(100 + serial).slice(-3)}`;
  return d17 + checkChar(d17);
}

const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

describe('the intake run and results day', () => {
  let srv, staff, district, schools, units, catchments;
  let priv, pubSchool, unitOfPub; // the private school cut to one seat; a public school and a unit of its catchment
  const fams = []; // {client, receipt, child}
  let published;

  before(async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rx-intake-'));
    district = join(tmp, 'city');
    const g = spawnSync(RUXUE, ['demo', '--out', district, '--students', '100', '--schools', '6', '--seed', '5']);
    assert.equal(g.status, 0, String(g.stderr));
    schools = csvRows(readFileSync(join(district, 'schools.csv'), 'utf8'));
    units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1);
    catchments = csvRows(readFileSync(join(district, 'catchments.csv'), 'utf8')).slice(1);
    priv = schools.slice(1).find((r) => r[2] === 'private')[0];
    // a single-school catchment and one of its units
    const single = catchments.find((c) => !c[1].includes(';'));
    pubSchool = single[1];
    unitOfPub = units.find((u) => u[4] === single[0])[0];
    srv = await startServer({ extraArgs: ['--district', district] });
    staff = await staffLogin(srv);
  });
  after(async () => {
    await srv?.cleanup();
  });

  it('before anything: the intake is in setup, with no public records yet', async () => {
    const anon = new Client(srv);
    const r = await anon.request('GET', '/api/intake');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.phase, 'setup');
    assert.equal(r.json.commitment, null);
    assert.equal(r.json.publication, null);
    for (const step of ['run', 'draw']) {
      const early = await staff.request('POST', `/api/intake/${step}`, step === 'draw' ? { json: { entropy: 'x' } } : {});
      assert.equal(early.status, 409, `${step}: ${early.text}`);
      assert.equal(early.json.error.code, 'intake_step');
    }
  });

  it('setup: the private school has one seat; the bureau commits to its secret', async () => {
    const text = readFileSync(join(district, 'schools.csv'), 'utf8');
    const lines = text.split('\r\n');
    const k = lines.findIndex((l) => l.startsWith(priv + ','));
    const f = lines[k].split(',');
    f[3] = '1';
    lines[k] = f.join(',');
    const up = await staff.request('PUT', '/api/district/schools.csv', { body: lines.join('\r\n') });
    assert.equal(up.status, 200, up.text);
    const fam = await familySignIn(srv, staff);
    const nope = await fam.request('POST', '/api/intake/commit');
    assert.equal(nope.status, 403);
    const c = await staff.request('POST', '/api/intake/commit');
    assert.equal(c.status, 200, c.text);
    assert.match(c.json.commitment, /^[0-9a-f]{64}$/);
    const again = await staff.request('POST', '/api/intake/commit');
    assert.equal(again.status, 200, 'a commitment is made once: asked again, the same one');
    assert.equal(again.json.again, true);
    assert.equal(again.json.commitment, c.json.commitment);
    const pub = await new Client(srv).request('GET', '/api/intake');
    assert.equal(pub.json.phase, 'committed');
    assert.equal(pub.json.commitment.commitment, c.json.commitment);
  });

  it('claims other offices settle carry what the rules need, checked against the policy', async () => {
    const client = await familySignIn(srv, staff);
    const bad = [
      [{ sibling: true }, 400, 'bad_type'],
      [{ sibling: 'S-NONE' }, 422, 'unknown_school'],
      [{ special_needs: true }, 400, 'bad_type'],
      [{ priority_group: 'vip' }, 422, 'unknown_group'],
    ];
    for (const [claims, status, code] of bad) {
      const r = await client.request('POST', '/api/applications', {
        json: { id_number: eligibleChildId(), claims }, headers: { 'Idempotency-Key': idemKey() },
      });
      assert.equal(r.status, status, `${JSON.stringify(claims)}: ${r.text}`);
      assert.equal(r.json.error.code, code);
    }
    const ok = await client.request('POST', '/api/applications', {
      json: { id_number: eligibleChildId(), claims: { sibling: pubSchool, special_needs: 'inclusive' } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(ok.status, 201, ok.text);
    assert.equal(ok.json.status, 'draft');
    assert.equal(ok.json.application.check.review, true, 'no records hold these: staff settle them');
  });

  it('families apply: three want the private school, one more the public one', async () => {
    for (let i = 0; i < 4; i++) {
      const client = await familySignIn(srv, staff);
      const child = eligibleChildId();
      const r = await client.request('POST', '/api/applications', {
        json: {
          id_number: child, submit: true, child_name: `孩子${i}`,
          // the third is in a policy-priority group (军人子女): once verified it beats any number
          claims: i === 2 ? { residence_unit: unitOfPub, priority_group: 'military' } : { residence_unit: unitOfPub },
          private_choices: i < 3 ? [priv] : [],
        },
        headers: { 'Idempotency-Key': idemKey() },
      });
      assert.equal(r.status, 201, r.text);
      // no records hold this address: the claim goes to manual review, never blocks
      assert.equal(r.json.application.check.review, true, r.text);
      fams.push({ client, receipt: r.json.receipt, child, pseudonym: r.json.pseudonym, name: `孩子${i}` });
    }
    // before review no residence is verified: no standing yet
    const none = await fams[0].client.request('GET', `/api/applications/${fams[0].receipt}/standing`);
    assert.equal(none.status, 200, none.text);
    assert.equal(none.json.residence_unit, null);
    assert.deepEqual(none.json.schools, []);
    // staff settle the claims in review
    for (const f of fams) {
      const d = await staff.request('POST', `/api/applications/${f.receipt}/review`, {
        json: { decision: 'verified', note: '租赁合同与水电缴费记录已核验' },
      });
      assert.equal(d.status, 200, d.text);
    }
    // the category the verified facts give at the catchment's school (demo policy: E 片区居住)
    const st = await fams[0].client.request('GET', `/api/applications/${fams[0].receipt}/standing`);
    assert.equal(st.status, 200, st.text);
    assert.equal(st.json.residence_unit, unitOfPub);
    assert.deepEqual(st.json.schools.map((x) => [x.school, x.eligible, x.category, x.label]), [[pubSchool, true, 'E', '片区居住']]);
    assert.equal((await fams[1].client.request('GET', `/api/applications/${fams[0].receipt}/standing`)).status, 404);
  });

  it('freeze is refused while the window is open; the dry run works any time', async () => {
    const early = await staff.request('POST', '/api/intake/freeze');
    assert.equal(early.status, 409, early.text);
    assert.equal(early.json.error.code, 'window_open');
    const dry = await staff.request('POST', '/api/intake/dry-run');
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.json.official, false);
    assert.equal(dry.json.students, 4);
    // what-if: three seats at the private school - who would move, before anything is official
    const wi = await staff.request('POST', '/api/intake/dry-run', { json: { seats: { [priv]: 3 } } });
    assert.equal(wi.status, 200, wi.text);
    assert.equal(wi.json.what_if.schools.find((x) => x.school === priv).seats, 3);
    assert.equal(wi.json.what_if.moved, 2, wi.text);
    const movers = wi.json.what_if.moves.map((m) => m.receipt).sort();
    assert.deepEqual(movers, [fams[0].receipt, fams[1].receipt].sort());
    assert.ok(wi.json.what_if.moves.every((m) => m.from === pubSchool && m.to === priv));
    const bad = await staff.request('POST', '/api/intake/dry-run', { json: { seats: { NOPE: 3 } } });
    assert.equal(bad.status, 422);
    const badPolicy = await staff.request('POST', '/api/intake/dry-run', { json: { policy: '[policy]\nintake = other\n' } });
    assert.equal(badPolicy.status, 422);
    assert.equal(badPolicy.json.error.field, 'policy');
  });

  it('the window closes; freeze fixes the list; setup and reviews are refused after it', async () => {
    const now = Date.now();
    const w = await staff.request('PUT', '/api/window', {
      json: { opens: iso(now - 86400e3), closes: iso(now + 1500) },
    });
    assert.equal(w.status, 200, w.text);
    await sleep(2000);
    const late = await fams[0].client.request('PUT', `/api/applications/${fams[0].receipt}`, { json: { child_name: 'x' } });
    assert.equal(late.status, 409);
    assert.equal(late.json.error.code, 'window_closed');
    const fz = await staff.request('POST', '/api/intake/freeze');
    assert.equal(fz.status, 200, fz.text);
    assert.equal(fz.json.applicants, 4);
    assert.match(fz.json.frozen_digest, /^[0-9a-f]{64}$/);
    const again = await staff.request('POST', '/api/intake/freeze');
    assert.equal(again.status, 200);
    assert.equal(again.json.again, true);
    assert.equal(again.json.frozen_digest, fz.json.frozen_digest);
    const up = await staff.request('PUT', '/api/district/schools.csv', { body: readFileSync(join(district, 'schools.csv'), 'utf8') });
    assert.equal(up.status, 409);
    assert.equal(up.json.error.code, 'intake_frozen');
    const rv = await staff.request('POST', `/api/applications/${fams[0].receipt}/review`, {
      json: { decision: 'not_verified', note: 'x' },
    });
    assert.equal(rv.status, 409);
    const win = await staff.request('PUT', '/api/window', { json: { opens: iso(now), closes: iso(now + 86400e3) } });
    assert.equal(win.status, 409);
  });

  it('the draw: the seed follows from the public records, as docs/lottery.md says', async () => {
    const bad = await staff.request('POST', '/api/intake/draw', { json: { entropy: '' } });
    assert.equal(bad.status, 400);
    const entropy = '2027-06-30 福彩3D 第2027170期 开奖号码 4 7 1';
    const d = await staff.request('POST', '/api/intake/draw', { json: { entropy } });
    assert.equal(d.status, 200, d.text);
    const pub = (await new Client(srv).request('GET', '/api/intake')).json;
    assert.equal(pub.phase, 'drawn');
    const secret = Buffer.from(pub.draw.secret, 'hex');
    const intake = pub.intake;
    const commitment = createHash('sha256')
      .update(Buffer.concat([Buffer.from('ruxue/commit/v1\0' + intake + '\0'), secret])).digest('hex');
    assert.equal(commitment, pub.commitment.commitment, 'the revealed secret matches the commitment');
    const frozen = createHash('sha256')
      .update([...fams.map((f) => f.pseudonym)].sort().map((p) => p + '\n').join('')).digest('hex');
    assert.equal(frozen, pub.freeze.frozen_digest, 'the frozen list is exactly the four applicants');
    const seed = createHmac('sha256', secret)
      .update(`ruxue/seed/v1\0${intake}\0${frozen}\0${entropy}`).digest('hex');
    assert.equal(seed, d.json.seed);
    assert.equal(pub.draw.seed, seed);
    const other = await staff.request('POST', '/api/intake/draw', { json: { entropy: 'other' } });
    assert.equal(other.status, 409, 'a second draw with other entropy is refused');
  });

  it('the official run is checked: one seat each, seats kept, no blocking pair, same digest twice', async () => {
    const r = await staff.request('POST', '/api/intake/run');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.official, true);
    assert.equal(r.json.checks.sound, true, r.text);
    assert.deepEqual(r.json.checks.problems, []);
    assert.equal(r.json.checks.same_digest, true);
    assert.equal(r.json.checks.second_run_digest, r.json.digest);
    const p = r.json.schools.find((s) => s.school === priv);
    assert.equal(p.seats, 1);
    assert.equal(p.admitted, 1);
  });

  it('publication: refused without a future deadline; then signed, verified, stored; once only', async () => {
    const noDeadline = await staff.request('POST', '/api/intake/publish', { json: { deadline: iso(Date.now() - 1000) } });
    assert.equal(noDeadline.status, 400);
    const before = await fams[0].client.request('GET', `/api/applications/${fams[0].receipt}/result`);
    assert.equal(before.status, 200);
    assert.equal(before.json.published, false);
    const deadline = Date.now() + 6000;
    const r = await staff.request('POST', '/api/intake/publish', { json: { deadline: iso(deadline) } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.checks.sound, true);
    published = r.json;
    const again = await staff.request('POST', '/api/intake/publish', { json: { deadline: iso(deadline) } });
    assert.equal(again.status, 409);
    assert.equal(again.json.error.code, 'already_published');
    const rerun = await staff.request('POST', '/api/intake/run');
    assert.equal(rerun.status, 409);
    const pub = (await new Client(srv).request('GET', '/api/intake')).json;
    assert.equal(pub.phase, 'published');
    assert.equal(pub.publication.digest, r.json.digest);
    // anyone can check the bundle with the bureau's public key
    const bundle = join(srv.dir, 'store-data', 'publication');
    const v = spawnSync(RUXUE, ['verify', bundle, '--pubkey', join(srv.dir, 'bureau.pub')], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    assert.match(v.stdout + v.stderr, new RegExp(r.json.digest));
  });

  it('results: the seat, the explanation of every school with its cutoff, the lottery number', async () => {
    const results = [];
    for (const f of fams) {
      const r = await f.client.request('GET', `/api/applications/${f.receipt}/result`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.published, true);
      assert.equal(r.json.pseudonym, f.pseudonym);
      assert.match(r.json.lottery, /^0\.\d{6}$/);
      assert.ok(r.json.explanation.length >= 1, r.text);
      for (const row of r.json.explanation) {
        assert.ok(row.zh && row.en && row.cutoff_zh && row.cutoff_en, JSON.stringify(row));
        assert.ok(row.name, 'schools are named');
      }
      f.result = r.json;
      results.push(r.json);
    }
    const atPriv = fams.filter((f) => f.result.offer.school?.id === priv);
    assert.equal(atPriv.length, 1, 'one seat, one child');
    assert.equal(atPriv[0], fams[2], 'the verified priority group comes before the lottery');
    assert.match(fams[2].result.explanation.find((x) => x.school === priv).en, /admitted/);
    const waiting = fams.slice(0, 3).filter((f) => f.result.offer.school?.id !== priv);
    assert.equal(waiting.length, 2);
    for (const f of waiting) {
      assert.equal(f.result.offer.school.id, pubSchool, 'the others are placed in their catchment');
      assert.equal(f.result.offer.status, 'offered');
      const row = f.result.explanation.find((x) => x.school === priv);
      assert.equal(row.outcome, 'below_cutoff');
      assert.match(row.zh, /低于该校录取线/);
      assert.match(row.en, /below the cutoff/);
      assert.equal(f.result.waitlists.length, 1);
      assert.equal(f.result.waitlists[0].school.id, priv);
    }
    const positions = waiting.map((f) => f.result.waitlists[0].position).sort();
    assert.deepEqual(positions, [1, 2]);
    // the waitlist is in lottery order: the better number is first
    const first = waiting.find((f) => f.result.waitlists[0].position === 1);
    const second = waiting.find((f) => f.result.waitlists[0].position === 2);
    assert.ok(first.result.lottery < second.result.lottery || first.result.explanation.find((x) => x.school === priv).en <= second.result.explanation.find((x) => x.school === priv).en);
    fams.winner = atPriv[0];
    fams.first = first;
    fams.second = second;
    // nobody else reads a family's result
    const other = await familySignIn(srv, staff);
    const peek = await other.request('GET', `/api/applications/${fams[0].receipt}/result`);
    assert.equal(peek.status, 404);
    const anon = await new Client(srv).request('GET', `/api/applications/${fams[0].receipt}/result`);
    assert.equal(anon.status, 401);
  });

  it('a school sees the children holding its seats, and nothing of the intake steps', async () => {
    const mk = await staff.request('POST', '/api/staff', {
      json: { username: 'school-pub', password: 'a-long-password-2', role: 'school', school: pubSchool },
    });
    assert.equal(mk.status, 201, mk.text);
    const school = new Client(srv);
    const li = await staffSignIn(school, 'school-pub', 'a-long-password-2', mk.json.totp.secret);
    assert.equal(li.status, 200, li.text);
    const roster = await school.request('GET', '/api/intake/roster?school=' + priv);
    assert.equal(roster.status, 200, roster.text);
    assert.equal(roster.json.school, pubSchool, 'a school account sees its own school only');
    const names = roster.json.children.map((c) => c.child_name).sort();
    const expected = fams.filter((f) => f.result.offer.school?.id === pubSchool).map((f) => f.name).sort();
    assert.equal(expected.length, 3);
    assert.deepEqual(names, expected);
    for (const c of roster.json.children) assert.match(c.masked_id, /^\*{14}\d{3}[\dX]$/);
    // it reads a child placed there, even one whose list did not name it, and not the others
    const here = fams[3];
    assert.equal(here.result.offer.school.id, pubSchool);
    assert.equal((await school.request('GET', `/api/applications/${here.receipt}/result`)).status, 200);
    assert.equal((await school.request('GET', `/api/applications/${fams[2].receipt}`)).status, 404);
    const seats = await school.request('GET', '/api/intake/seats');
    assert.deepEqual(seats.json.schools.map((x) => x.school), [pubSchool]);
    for (const step of ['commit', 'freeze', 'run', 'expire'])
      assert.equal((await school.request('POST', `/api/intake/${step}`)).status, 403, step);
    assert.equal((await school.request('GET', '/api/intake/moves')).status, 403);
    assert.equal((await school.request('GET', '/api/appeals')).status, 403);
  });

  it('accept; decline frees the seat for the first on the waitlist, recorded and notified', async () => {
    const { winner, first, second } = fams;
    const nocsrf = await first.client.request('POST', `/api/applications/${first.receipt}/accept`, { csrf: false });
    assert.equal(nocsrf.status, 403);
    const acc = await first.client.request('POST', `/api/applications/${first.receipt}/accept`);
    assert.equal(acc.status, 200, acc.text);
    assert.equal(acc.json.status, 'accepted');
    const foreign = await second.client.request('POST', `/api/applications/${winner.receipt}/decline`);
    assert.equal(foreign.status, 404, 'a family answers only for its own child');
    const dec = await winner.client.request('POST', `/api/applications/${winner.receipt}/decline`);
    assert.equal(dec.status, 200, dec.text);
    assert.equal(dec.json.status, 'declined');
    // the first on the waitlist moved up; it had accepted a seat it ranked lower, so it is accepted
    const r1 = await first.client.request('GET', `/api/applications/${first.receipt}/result`);
    assert.equal(r1.json.offer.school.id, priv, r1.text);
    assert.equal(r1.json.offer.status, 'accepted');
    assert.equal(r1.json.moves.length, 1);
    assert.equal(r1.json.moves[0].from, pubSchool);
    assert.equal(r1.json.moves[0].to, priv);
    assert.deepEqual(r1.json.waitlists, []);
    const r2 = await second.client.request('GET', `/api/applications/${second.receipt}/result`);
    assert.equal(r2.json.offer.school.id, pubSchool);
    assert.equal(r2.json.waitlists[0].position, 1, 'the second is now first in line');
    const box = await staff.request('GET', '/api/demo/outbox');
    assert.ok(JSON.stringify(box.json).includes(first.receipt), 'the move is notified');
    const moves = await staff.request('GET', '/api/intake/moves');
    assert.equal(moves.status, 200);
    assert.equal(moves.json.moves.length, 1);
    const seats = await staff.request('GET', '/api/intake/seats');
    const p = seats.json.schools.find((s) => s.school === priv);
    assert.equal(p.held, 1);
    assert.equal(p.accepted, 1);
    const twice = await winner.client.request('POST', `/api/applications/${winner.receipt}/accept`);
    assert.equal(twice.status, 409, 'a declined seat is gone');
  });

  it('the deadline passes: seats not accepted expire, and the family is told', async () => {
    const { second } = fams;
    const wait = published ? new Date(published.deadline).getTime() - Date.now() + 1200 : 0;
    if (wait > 0) await sleep(wait);
    const tooLate = await second.client.request('POST', `/api/applications/${second.receipt}/accept`);
    assert.equal(tooLate.status, 409);
    assert.equal(tooLate.json.error.code, 'deadline_passed');
    const ex = await staff.request('POST', '/api/intake/expire');
    assert.equal(ex.status, 200, ex.text);
    assert.ok(ex.json.expired >= 2, ex.text); // the second and the fourth never answered
    const r = await second.client.request('GET', `/api/applications/${second.receipt}/result`);
    assert.equal(r.json.offer.status, 'expired');
  });

  it('a late family applies after publication and is placed by rolling admission', async () => {
    const client = await familySignIn(srv, staff);
    const child = eligibleChildId();
    const r = await client.request('POST', '/api/applications', {
      json: { id_number: child, submit: true, claims: { residence_unit: unitOfPub } },
      headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(r.status, 201, r.text);
    assert.equal(r.json.application.late, true);
    // its address is not in the records: no seat until staff verify it in review
    const first = await client.request('GET', `/api/applications/${r.json.receipt}/result`);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.offer.status, 'none', first.text);
    assert.match(first.json.offer.reason, /residence/);
    const d = await staff.request('POST', `/api/applications/${r.json.receipt}/review`, {
      json: { decision: 'verified', note: '居住证明已核验' },
    });
    assert.equal(d.status, 200, d.text);
    const res = await client.request('GET', `/api/applications/${r.json.receipt}/result`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.late, true);
    assert.equal(res.json.offer.round, 'rolling');
    assert.ok(res.json.offer.school, res.text);
    assert.equal(res.json.offer.status, 'offered');
    fams.late = { client, receipt: r.json.receipt };
  });

  it('appeals: the family appeals, staff answer, the family reads the answer', async () => {
    const { second } = fams;
    const empty = await second.client.request('POST', `/api/applications/${second.receipt}/appeal`, { json: { text: '' } });
    assert.equal(empty.status, 400);
    const a = await second.client.request('POST', `/api/applications/${second.receipt}/appeal`, {
      json: { text: '孩子住院，未能在截止时间前确认，请求恢复学位。' },
    });
    assert.equal(a.status, 201, a.text);
    const id = a.json.id;
    const school = new Client(srv);
    const q = await staff.request('GET', '/api/appeals?status=open');
    assert.equal(q.status, 200);
    assert.ok(q.json.appeals.some((x) => x.id === id));
    const byFamily = await second.client.request('GET', '/api/appeals');
    assert.equal(byFamily.status, 403);
    const ans = await staff.request('POST', `/api/appeals/${encodeURIComponent(id)}/answer`, {
      json: { answer: '经核实，恢复其在原学校的学位，请于三日内确认。' },
    });
    assert.equal(ans.status, 200, ans.text);
    const twice = await staff.request('POST', `/api/appeals/${encodeURIComponent(id)}/answer`, { json: { answer: 'x' } });
    assert.equal(twice.status, 409, 'an answer is never overwritten');
    const q2 = await staff.request('GET', '/api/appeals?status=open');
    assert.ok(!q2.json.appeals.some((x) => x.id === id));
    const seen = await second.client.request('GET', `/api/applications/${second.receipt}/result`);
    assert.equal(seen.json.appeals.length, 1);
    assert.equal(seen.json.appeals[0].status, 'answered');
    assert.match(seen.json.appeals[0].answer, /恢复/);
    assert.equal((await school.request('GET', '/api/appeals')).status, 401);

    // the appeal upheld: the bureau gives the seat back by hand
    const noNote = await staff.request('POST', '/api/intake/place', { json: { receipt: second.receipt, school: pubSchool } });
    assert.equal(noNote.status, 400);
    const full = await staff.request('POST', '/api/intake/place', { json: { receipt: second.receipt, school: priv, note: '申诉' } });
    assert.equal(full.status, 409);
    assert.equal(full.json.error.code, 'no_free_seat');
    const place = await staff.request('POST', '/api/intake/place', {
      json: { receipt: second.receipt, school: pubSchool, note: '申诉成立：住院证明已核验' },
    });
    assert.equal(place.status, 200, place.text);
    assert.equal(place.json.status, 'offered');
    assert.equal(place.json.round, 'manual');
    assert.equal(place.json.school.id, pubSchool);
    const back = await second.client.request('GET', `/api/applications/${second.receipt}/result`);
    assert.equal(back.json.offer.status, 'offered');
    assert.ok(back.json.moves.some((m) => m.why === 'by_hand' && m.to === pubSchool), back.text);
    const acc = await second.client.request('POST', `/api/applications/${second.receipt}/accept`);
    assert.equal(acc.status, 200, acc.text);
    assert.equal(acc.json.status, 'accepted');
    assert.equal((await second.client.request('POST', '/api/intake/place', { json: { receipt: second.receipt, school: pubSchool, note: 'x' } })).status, 403);
  });

  it('a restart keeps results day: offers, moves, waitlists, appeals; the audit chain verifies', async () => {
    const before = {};
    for (const f of [...fams, fams.late]) before[f.receipt] = (await f.client.request('GET', `/api/applications/${f.receipt}/result`)).json;
    await srv.stop();
    await srv.restart();
    for (const f of [...fams, fams.late]) {
      const r = await f.client.request('GET', `/api/applications/${f.receipt}/result`);
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.json.offer, before[f.receipt].offer);
      assert.deepEqual(r.json.moves, before[f.receipt].moves);
      assert.deepEqual(r.json.waitlists, before[f.receipt].waitlists);
      assert.deepEqual(r.json.appeals, before[f.receipt].appeals);
    }
    const pub = (await new Client(srv).request('GET', '/api/intake')).json;
    assert.equal(pub.phase, 'published');
    await srv.stop();
    const v = spawnSync(RUXUE, ['audit', 'verify', '--db', srv.db], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    // each intake step once the bureau's key is there left a signed checkpoint of the
    // audit log's head in DATA/audit/, and each still holds on the log
    const cps = readdirSync(join(srv.dir, 'store-data', 'audit')).filter((f) => f.startsWith('checkpoint-'));
    assert.ok(cps.some((f) => f.endsWith('-publish.txt')), cps.join(' '));
    for (const f of cps) {
      const c = spawnSync(RUXUE, ['audit', 'verify', '--db', srv.db, '--checkpoint', join(srv.dir, 'store-data', 'audit', f),
        '--pub', join(srv.dir, 'bureau.pub')], { encoding: 'utf8' });
      assert.equal(c.status, 0, f + c.stdout + c.stderr);
      assert.match(c.stdout, /holds: the log has not been cut or rewritten before it/);
    }
    await srv.restart();
  });
});
