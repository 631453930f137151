// canary.test.mjs - children's personal data stays where it belongs (issue #7,
// item 7).  Recognisable fake people (canaries: ID numbers with valid check
// characters, names 金丝雀一号..., phone numbers) go through a whole intake
// through the API: records files, applications with guardians, review,
// window close, freeze, draw, run, publish, results, accept and decline, an
// appeal (its text naming the child, the number and the phone), and errors provoked on purpose with the canaries in the requests.
// Then every place a copy could end up is scanned for every form of every
// canary (an ID number whole, in its 17- and 15-digit pieces, with a
// lowercase x; a phone with and without +86; a name as UTF-8 and as JSON
// \u escapes):
//
//   - the server's stdout and stderr, of every start;
//   - the audit log: `ruxue audit verify` and the console's audit viewer
//     (and the table itself, in the raw bytes below);
//   - every file of the data directory, the publication bundle included;
//   - the body of every 4xx/5xx answer the API gave during the run;
//   - the raw bytes of the store and its -wal and -shm files, while the
//     server runs and after it stopped (no checkpoint forced).
//
// Nothing may be found.  Then the screens: only the last four of a number
// show; the full number is an audited staff action (reveal).  Then
// `ruxue purge`: refused before the retention period without --force and
// a reason; with them, the personal data is gone, the intake key file is
// deleted, a copy of the store made before the purge can no longer be
// opened, the pseudonymous results are still served, and a second scan
// finds nothing.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Client, checkChar, codeFromOutbox, idemKey, masked, startServer, staffLogin, staffSignIn, wrongCheckId } from './harness.mjs';

const RUXUE = process.env.RUXUE;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function csvRows(text) {
  return text.replace(/^\uFEFF/, '').split('\r\n').filter((l) => l).map((l) => l.split(','));
}

// An ID number from 17 digits' prefix: the first sequence number from seq on
// whose check character is want (or any, when want is null).
function idWith(prefix14, seq, want = null) {
  for (let s = seq; s < seq + 1000; s++) {
    const d17 = prefix14 + String(s % 1000).padStart(3, '0');
    const c = checkChar(d17);
    if (!want || c === want) return d17 + c;
  }
  throw new Error('no such number');
}

// The canaries: three children (one with a check character X), their
// guardians, their names and their families' phones.
const CHILDREN = [
  idWith('51010720200314', 770, 'X'),
  idWith('51010720200422', 771),
  idWith('51010720200527', 772),
];
const GUARDIANS = [
  [idWith('11010519850611', 881), idWith('11010519870923', 882)],
  [idWith('31010419860102', 883), idWith('31010419880704', 884)],
  [idWith('44030519840815', 885), idWith('44030519890330', 886)],
];
const NAMES = ['金丝雀一号', '金丝雀二号', '金丝雀三号'];
const PHONES = ['19977001101', '19977001102', '19977001103'];
const STRAY_ID = idWith('51010720200609', 773); // only ever in a refused request
const STRAY_PHONE = '19977001199';

// Every form a copy of a canary could take.
function needles() {
  const out = [];
  const ids = [...CHILDREN, ...GUARDIANS.flat(), STRAY_ID];
  for (const id of ids) {
    out.push([id, `ID ${id}`]);
    if (id.endsWith('X')) out.push([id.slice(0, 17) + 'x', `ID ${id} (lowercase x)`]);
    out.push([id.slice(0, 17), `ID ${id}: its 17 digits`]);
    for (let k = 0; k + 15 <= 18; k++) {
      const piece = id.slice(k, k + 15);
      if (/^\d{15}$/.test(piece)) out.push([piece, `ID ${id}: 15 digits at ${k}`]);
    }
    // the old 15-digit form: region, yymmdd, sequence
    out.push([id.slice(0, 6) + id.slice(8, 17), `ID ${id}: old 15-digit form`]);
  }
  for (const p of [...PHONES, STRAY_PHONE]) {
    out.push([p, `phone ${p}`]);
    out.push([`+86${p}`, `phone +86${p}`]);
  }
  for (const n of NAMES) {
    out.push([n, `name ${n}`]);
    const esc = [...n].map((ch) => '\\u' + ch.codePointAt(0).toString(16).padStart(4, '0')).join('');
    out.push([esc, `name ${n} (JSON escapes)`]);
  }
  return out.map(([s, what]) => ({ what, buf: Buffer.from(s, 'utf8') }));
}
const NEEDLES = needles();

// The canaries found in buf (named where) as readable lines; [] when clean.
function findIn(buf, where) {
  const hits = [];
  for (const n of NEEDLES) {
    const at = buf.indexOf(n.buf);
    if (at >= 0) hits.push(`${where}: ${n.what} at byte ${at}`);
  }
  return hits;
}

function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(p));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

function storeFiles(db) {
  return [db, `${db}-wal`, `${db}-shm`].filter((p) => existsSync(p));
}

describe('children\'s personal data: canaries through a whole intake', () => {
  let srv, staff, district, units, catchments, pubSchool, unitOfPub;
  const errors = []; // {method, path, status, text} of every 4xx/5xx
  let logs = ''; // stdout and stderr of every server start
  const fams = []; // {client, receipt, pseudonym}
  const runningScans = []; // hits found while the server ran

  const onBody = (text, info) => {
    if (info.status >= 400) errors.push({ ...info, text });
  };
  const client = () => new Client(srv, { onBody });
  const keepLogs = () => {
    logs += srv.output() + srv.errors();
  };
  const stop = async () => {
    keepLogs();
    await srv.stop();
  };

  before(async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rx-canary-'));
    district = join(tmp, 'city');
    const g = spawnSync(RUXUE, ['demo', '--out', district, '--students', '60', '--schools', '4', '--seed', '7']);
    assert.equal(g.status, 0, String(g.stderr));
    units = csvRows(readFileSync(join(district, 'address_units.csv'), 'utf8')).slice(1);
    catchments = csvRows(readFileSync(join(district, 'catchments.csv'), 'utf8')).slice(1);
    const single = catchments.find((c) => !c[1].includes(';'));
    pubSchool = single[1];
    unitOfPub = units.find((u) => u[4] === single[0])[0];
    srv = await startServer({ extraArgs: ['--district', district], label: 'canary' });
    staff = await staffLogin(srv, { onBody });
  });
  after(async () => {
    if (srv) keepLogs();
    await srv?.cleanup();
  });

  it('records files with the canaries are uploaded (a bad one refused without echoing a number)', async () => {
    const rows = ['id_number,unit,since,household'];
    // registered elsewhere than the families say they live: every claim goes to review
    const elsewhere = units.find((u) => u[0] !== unitOfPub)[0];
    for (let i = 0; i < 3; i++) {
      if (i < 2) rows.push(`${CHILDREN[i]},${elsewhere},2021-01-01,HH${i}`);
      rows.push(`${GUARDIANS[i][0]},${elsewhere},2015-01-01,HH${i}`);
    }
    const bad = await staff.request('PUT', '/api/records/hukou.csv', { body: [...rows, `${CHILDREN[0]},${elsewhere},2021-01-01,HH9`].join('\n') + '\n' });
    assert.equal(bad.status, 422, bad.text); // the child twice
    const up = await staff.request('PUT', '/api/records/hukou.csv', { body: rows.join('\n') + '\n' });
    assert.equal(up.status, 200, up.text);
    const c = await staff.request('POST', '/api/intake/commit');
    assert.equal(c.status, 200, c.text);
  });

  it('families with canary phones apply for canary children, with their guardians', async () => {
    for (let i = 0; i < 3; i++) {
      const fam = client();
      const r1 = await fam.request('POST', '/api/family/code', { json: { phone: PHONES[i] } });
      assert.equal(r1.status, 202, r1.text);
      const code = await codeFromOutbox(staff, PHONES[i]);
      assert.ok(code, 'the demo outbox is the SMS gateway: it names the recipient to staff');
      const r2 = await fam.request('POST', '/api/family/login', { json: { phone: PHONES[i], code } });
      assert.equal(r2.status, 200, r2.text);
      const r = await fam.request('POST', '/api/applications', {
        json: {
          id_number: i === 0 ? CHILDREN[i].toLowerCase() : CHILDREN[i], // lowercase x accepted
          guardians: GUARDIANS[i], child_name: NAMES[i], submit: true,
          claims: { residence_unit: unitOfPub },
        },
        headers: { 'Idempotency-Key': idemKey() },
      });
      assert.equal(r.status, 201, r.text);
      // what a family's screen gets: the last four of each number, no more
      assert.equal(r.json.id_number, masked(CHILDREN[i]));
      assert.deepEqual(r.json.application.guardians, GUARDIANS[i].map(masked));
      assert.ok(!r.text.includes(CHILDREN[i].slice(0, 14)), r.text);
      fams.push({ client: fam, receipt: r.json.receipt, pseudonym: r.json.pseudonym });
    }
  });

  it('errors provoked with canaries in the request never echo them', async () => {
    const anon = client();
    assert.equal((await anon.request('POST', '/api/family/code', { json: { phone: `+86${STRAY_PHONE}` } })).status, 400);
    assert.equal((await anon.request('POST', '/api/family/code', { json: { phone: `${STRAY_PHONE}0` } })).status, 400);
    const fam = fams[0].client;
    const wrong = await fam.request('POST', '/api/applications', {
      json: { id_number: wrongCheckId(STRAY_ID), child_name: NAMES[0] }, headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(wrong.status, 400, wrong.text);
    const dup = await fams[1].client.request('POST', '/api/applications', {
      json: { id_number: CHILDREN[0], child_name: NAMES[0] }, headers: { 'Idempotency-Key': idemKey() },
    });
    assert.equal(dup.status, 409, dup.text);
    const longName = await fam.request('POST', '/api/applications', {
      json: { id_number: STRAY_ID, child_name: NAMES[1].repeat(200) }, headers: { 'Idempotency-Key': idemKey() },
    });
    assert.ok(longName.status >= 400, longName.text);
    const badGuardian = await fam.request('POST', '/api/applications', {
      json: { id_number: STRAY_ID, guardians: [wrongCheckId(GUARDIANS[0][0])] }, headers: { 'Idempotency-Key': idemKey() },
    });
    assert.ok(badGuardian.status >= 400, badGuardian.text);
    assert.equal((await anon.request('GET', `/api/applications/${CHILDREN[1]}`)).status, 401);
    assert.equal((await staff.request('GET', `/api/applications/${CHILDREN[1]}`)).status, 404);
    assert.ok(errors.length >= 8, `errors collected: ${errors.length}`);
  });

  it('staff see the last four; the full number is a district action, audited by pseudonym', async () => {
    const f = fams[2];
    const got = await staff.request('GET', `/api/applications/${f.receipt}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.id_number, masked(CHILDREN[2]));
    assert.match(got.json.id_number, /^\*{14}\d{3}[\dX]$/);
    const ev = await staff.request('GET', `/api/applications/${fams[0].receipt}/evidence`);
    assert.equal(ev.status, 200, ev.text);
    for (const id of [CHILDREN[0], ...GUARDIANS[0]]) assert.ok(!ev.text.includes(id.slice(0, 14)), ev.text);

    // a family, a school, a request without the CSRF token: refused
    assert.equal((await f.client.request('POST', `/api/applications/${f.receipt}/reveal`)).status, 403);
    const mk = await staff.request('POST', '/api/staff', {
      json: { username: 'school-canary', password: 'a-long-password-canary', role: 'school', school: pubSchool },
    });
    assert.equal(mk.status, 201, mk.text);
    const school = client();
    const li = await staffSignIn(school, 'school-canary', 'a-long-password-canary', mk.json.totp.secret);
    assert.equal(li.status, 200, li.text);
    assert.equal((await school.request('POST', `/api/applications/${f.receipt}/reveal`)).status, 403);
    assert.equal((await staff.request('POST', `/api/applications/${f.receipt}/reveal`, { csrf: false })).status, 403);
    assert.equal((await staff.request('POST', '/api/applications/RX-NONE-00000000/reveal')).status, 404);

    const rv = await staff.request('POST', `/api/applications/${f.receipt}/reveal`);
    assert.equal(rv.status, 200, rv.text);
    assert.equal(rv.json.id_number, CHILDREN[2]);
    assert.deepEqual(rv.json.guardians, GUARDIANS[2]);
    assert.equal(rv.json.pseudonym, f.pseudonym);
    const audit = await staff.request('GET', '/api/console/audit?limit=1000');
    assert.equal(audit.status, 200, audit.text);
    const entries = audit.json.entries ?? audit.json;
    const seen = entries.filter((e) => e.action === 'application.reveal');
    assert.equal(seen.length, 1, audit.text.slice(0, 500));
    assert.equal(seen[0].actor, 'staff:demo');
    assert.equal(seen[0].object, f.receipt);
    assert.match(seen[0].detail, new RegExp(f.pseudonym));
  });

  it('review, window close, freeze, draw, run, publish, results, accept, decline, appeal', async () => {
    // no records show where the children live: staff settle it in review
    for (const f of fams) {
      const rv = await staff.request('POST', `/api/applications/${f.receipt}/review`, {
        json: { decision: 'verified', note: '租赁合同已核验' },
      });
      assert.equal(rv.status, 200, rv.text);
    }
    const now = Date.now();
    const w = await staff.request('PUT', '/api/window', { json: { opens: iso(now - 86400e3), closes: iso(now + 1500) } });
    assert.equal(w.status, 200, w.text);
    await sleep(2000);
    const fz = await staff.request('POST', '/api/intake/freeze');
    assert.equal(fz.status, 200, fz.text);
    const d = await staff.request('POST', '/api/intake/draw', { json: { entropy: 'canary draw 1 2 3' } });
    assert.equal(d.status, 200, d.text);
    const run = await staff.request('POST', '/api/intake/run');
    assert.equal(run.status, 200, run.text);
    const pub = await staff.request('POST', '/api/intake/publish', { json: { deadline: iso(Date.now() + 3600e3) } });
    assert.equal(pub.status, 200, pub.text);
    for (const f of fams) {
      const r = await f.client.request('GET', `/api/applications/${f.receipt}/result`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.published, true);
      f.result = r.json;
    }
    const placed = fams.filter((f) => f.result.offer?.school);
    assert.ok(placed.length >= 2, JSON.stringify(fams.map((f) => f.result.offer)));
    const acc = await placed[0].client.request('POST', `/api/applications/${placed[0].receipt}/accept`);
    assert.equal(acc.status, 200, acc.text);
    const dec = await placed[1].client.request('POST', `/api/applications/${placed[1].receipt}/decline`);
    assert.equal(dec.status, 200, dec.text);
    // a family writes its child's name, number and its phone into the appeal's own words
    const appealText = `请求复核片区划分：${NAMES[2]}，身份证 ${CHILDREN[2]}，电话 ${PHONES[2]}。`;
    const ap = await fams[2].client.request('POST', `/api/applications/${fams[2].receipt}/appeal`, {
      json: { text: appealText },
    });
    assert.equal(ap.status, 201, ap.text);
    const queue = await staff.request('GET', '/api/appeals?status=open');
    assert.equal(queue.status, 200, queue.text);
    assert.ok(JSON.stringify(queue.json).includes(appealText), 'the bureau reads the appeal as written (sealed, not lost)');
    const roster = await staff.request('GET', `/api/intake/roster?school=${pubSchool}`);
    assert.equal(roster.status, 200, roster.text);
    for (const c of roster.json.children) assert.match(c.masked_id, /^\*{14}\d{3}[\dX]$/);
  });

  it('while the server runs: no canary in the store\'s raw bytes, the -wal or the -shm', () => {
    for (const p of storeFiles(srv.db)) runningScans.push(...findIn(readFileSync(p), `${p} (running)`));
    assert.ok(existsSync(`${srv.db}-wal`), 'the store runs in WAL mode');
    assert.deepEqual(runningScans, []);
  });

  it('after the run: no canary in logs, audit, data directory, bundle, error answers or the store', async () => {
    const console = await staff.request('GET', '/api/console/audit?limit=1000');
    assert.equal(console.status, 200);
    await stop(); // SIGTERM; nothing forces a checkpoint
    const hits = [];
    hits.push(...findIn(Buffer.from(logs), 'server stdout/stderr'));
    assert.ok(logs.includes('listening on'), 'the logs were captured');
    hits.push(...findIn(Buffer.from(console.text), 'console audit viewer'));
    const v = spawnSync(RUXUE, ['audit', 'verify', '--db', srv.db], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    hits.push(...findIn(Buffer.from(v.stdout + v.stderr), 'ruxue audit verify'));
    const data = join(srv.dir, 'store-data');
    const files = filesUnder(data);
    assert.ok(files.some((p) => p.includes('publication')), `the bundle is in the data directory: ${files.join(', ')}`);
    assert.ok(files.some((p) => p.endsWith('students.csv')), 'the frozen students.csv is there');
    for (const p of files) hits.push(...findIn(readFileSync(p), p));
    for (const e of errors) hits.push(...findIn(Buffer.from(e.text), `${e.status} answer to ${e.method} ${e.path}`));
    for (const p of storeFiles(srv.db)) hits.push(...findIn(readFileSync(p), `${p} (stopped)`));
    // the canaries really went through: the store holds sealed data of that size
    assert.ok(statSync(srv.db).size > 0);
    assert.deepEqual(hits, []);
  });

  it('purge: refused before the retention period; forced with a reason, audited; the key file goes', async () => {
    const intakeKey = join(srv.dir, 'intake-2027-G1.key');
    assert.ok(existsSync(intakeKey), 'the intake key lives beside the master key');
    assert.equal(statSync(intakeKey).mode & 0o777, 0o600);
    // a backup made before the purge
    const backup = join(srv.dir, 'backup.db');
    copyFileSync(srv.db, backup);
    if (existsSync(`${srv.db}-wal`)) copyFileSync(`${srv.db}-wal`, `${backup}-wal`);

    const args = ['purge', '--intake', '2027-G1', '--db', srv.db, '--pii-key', srv.key, '--retention-days', '180'];
    const early = spawnSync(RUXUE, args, { encoding: 'utf8' });
    assert.equal(early.status, 1, early.stdout + early.stderr);
    assert.match(early.stderr, /retention period of 180 days has not passed/);
    const noReason = spawnSync(RUXUE, [...args, '--force'], { encoding: 'utf8' });
    assert.equal(noReason.status, 2, noReason.stderr);
    assert.match(noReason.stderr, /--reason/);
    const other = spawnSync(RUXUE, ['purge', '--intake', '2026-X', '--db', srv.db, '--pii-key', srv.key, '--retention-days', '0', '--force', '--reason', 'x'], { encoding: 'utf8' });
    assert.equal(other.status, 1, other.stdout + other.stderr);
    assert.match(other.stderr, /holds intake '2027-G1'/);
    assert.ok(existsSync(intakeKey), 'nothing purged yet');

    const p = spawnSync(RUXUE, [...args, '--force', '--reason', 'canary test: purge now'], { encoding: 'utf8' });
    assert.equal(p.status, 0, p.stdout + p.stderr);
    assert.match(p.stdout, /applications 3, families 3/);
    assert.match(p.stdout, /records files 1/);
    assert.ok(!existsSync(intakeKey), 'the intake key file is deleted');
    assert.ok(!existsSync(`${srv.db}-wal`) || statSync(`${srv.db}-wal`).size === 0, 'the WAL is emptied');

    // the second scan: the store, its side files, the data directory
    const hits = [];
    for (const f of storeFiles(srv.db)) hits.push(...findIn(readFileSync(f), `${f} (purged)`));
    for (const f of filesUnder(join(srv.dir, 'store-data'))) hits.push(...findIn(readFileSync(f), f));
    hits.push(...findIn(Buffer.from(p.stdout + p.stderr), 'ruxue purge output'));
    assert.deepEqual(hits, []);
    const v = spawnSync(RUXUE, ['audit', 'verify', '--db', srv.db], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
  });

  it('after the purge: an old backup cannot be opened; the results are still served by pseudonym', async () => {
    // the master key is still there, the intake key is not: the backup's data stays sealed
    const b = spawnSync(RUXUE, ['serve', '--db', join(srv.dir, 'backup.db'), '--pii-key', srv.key, '--port', '0'], { encoding: 'utf8', timeout: 20000 });
    assert.equal(b.status, 1, b.stdout + b.stderr);
    assert.match(b.stderr, /sealed under another key/);

    await srv.start();
    const pub = await new Client(srv).request('GET', '/api/intake');
    assert.equal(pub.status, 200, pub.text);
    assert.equal(pub.json.phase, 'published');
    const s2 = await staffLogin(srv, { onBody });
    const audit = await s2.request('GET', '/api/console/audit?limit=1000');
    const entries = audit.json.entries ?? audit.json;
    const purge = entries.find((e) => e.action === 'intake.purge');
    assert.ok(purge, 'the purge is in the audit log');
    assert.equal(purge.object, '2027-G1');
    assert.match(purge.detail, /forced before the retention period of 180 days.*canary test: purge now/);
    const app = await s2.request('GET', `/api/applications/${fams[0].receipt}`);
    assert.equal(app.status, 200, app.text);
    assert.equal(app.json.pseudonym, fams[0].pseudonym, 'the pseudonym stays');
    assert.ok(!app.text.includes(NAMES[0]));
    // signing in again with a purged phone makes a new, empty family
    const fam = client();
    assert.equal((await fam.request('POST', '/api/family/code', { json: { phone: PHONES[0] } })).status, 202);
    const code = await codeFromOutbox(s2, PHONES[0]);
    assert.equal((await fam.request('POST', '/api/family/login', { json: { phone: PHONES[0], code } })).status, 200);
    const mine = await fam.request('GET', '/api/applications');
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.json.applications ?? mine.json, []);
  });

  it('the keys live outside the data directory: a key file inside it is refused at start', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rx-keyplace-'));
    mkdirSync(join(dir, 'x-data'));
    const r = spawnSync(RUXUE, ['serve', '--db', join(dir, 'x.db'), '--pii-key', join(dir, 'x-data', 'pii.key'), '--port', '0'],
      { encoding: 'utf8', timeout: 20000 });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /inside the data directory/);
  });
});
