// faults.test.mjs - a full disk and I/O errors under the real server: every
// change the store cannot take is answered 503 with Retry-After (never a
// 201 that is then lost, never a 500 or a 401 that signs the client out),
// and once space returns the same process takes everything again.
//
//   RUXUE=build/tests/fault/ruxue-faulty node --test tests/e2e/faults.test.mjs
//
// The binary is `ruxue-faulty` (tests/fault/): `ruxue` with a test SQLite
// VFS that follows the control file named by RUXUE_FAULT_CTL: "ok",
// "full" (every write fails with SQLITE_FULL), "ioerr" (every file
// operation fails), "full after N" / "ioerr after N" (after N more file
// operations).  The test writes that file (write + rename, so the server
// never reads half of it).
//
// Proved: during a full disk, submissions, staff review decisions, window
// changes, code requests and staff sign-ins get 503 + Retry-After, reads
// still answer 200; during I/O errors every change gets 503 + Retry-After
// and a read 200 or 503 + Retry-After (a signed-in client is never told it
// is signed out); a disk
// that fills in the middle of a burst of submissions (after 0 to 200 file
// operations) answers each of them 201 or 503 + Retry-After, and the 201s
// are all there; then, with space back and the same process (same pid),
// every refused request sent again with its Idempotency-Key succeeds;
// every acknowledged receipt reads back, each family holds exactly one
// application per child, and all of that survives a SIGKILL and restart.
//
// And the intake's steps (a district upload, commit, freeze, draw, the
// official run, publication, a family's acceptance): each answers 503 +
// Retry-After on a full disk, on I/O errors and on a disk that fills or
// fails part way through the step (at its 1st, 2nd, ... file operation,
// until the step is done before the fault comes), and the same
// step then succeeds in the same process once space returns; the results
// are there after a restart and the audit chain verifies.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { checkChar, familySignIn, idemKey, randomChildId, randomPhone, staffLogin, startServer } from './harness.mjs';

const ctlDir = mkdtempSync(join(tmpdir(), 'ruxue-faultctl-'));
const CTL = join(ctlDir, 'ctl');
let ctlSeq = 0;

// Tell the server's VFS what to do: the next file operation reads it.
function control(text) {
  const tmp = `${CTL}.${ctlSeq++}`;
  writeFileSync(tmp, `${text}\n`);
  renameSync(tmp, CTL);
}
control('ok');
process.env.RUXUE_FAULT_CTL = CTL; // startServer's child inherits it

after(() => rmSync(ctlDir, { recursive: true, force: true }));

const FAMILIES = 4;

// a read during I/O errors: served from what the server holds (200), or 503 +
// Retry-After; never a 500, never "signed out"
function assertReadOrUnavailable(r, what) {
  if (r.status === 200) return;
  assertUnavailable(r, what);
}

// a 503 as docs/api.md says: Retry-After (whole seconds), code unavailable
function assertUnavailable(r, what) {
  assert.equal(r.status, 503, `${what}: expected 503, got ${r.status} ${r.text}`);
  const ra = r.headers.get('retry-after');
  assert.match(ra ?? '', /^[1-9][0-9]*$/, `${what}: Retry-After '${ra}'`);
  assert.equal(r.json?.error?.code, 'unavailable', `${what}: ${r.text}`);
}

describe('disk full and I/O errors: 503 with Retry-After, then recovery without a restart', () => {
  let srv;
  let staff;
  const fams = [];
  // every create ever sent: {fam, key, json, acked: receipt or null}
  const sent = [];

  const create = (fam, key, json) =>
    fam.request('POST', '/api/applications', { json, headers: { 'Idempotency-Key': key } });

  // a new child for fam; the request is remembered, its answer checked by the caller
  function newSubmission(fam) {
    const q = { fam, key: randomUUID(), json: { id_number: randomChildId(), child_name: '王小五', submit: true, claims: { residence_unit: 'U000123' } }, acked: null };
    sent.push(q);
    return q;
  }

  async function submit(q) {
    const r = await create(q.fam, q.key, q.json);
    if (r.status === 201 || r.status === 200) q.acked = r.json.receipt;
    return r;
  }

  before(async () => {
    srv = await startServer({ label: 'faults' });
    assert.match(srv.errors(), /fault VFS/, 'the server runs on the fault VFS (RUXUE is ruxue-faulty)');
    staff = await staffLogin(srv);
    for (let i = 0; i < FAMILIES; i++) fams.push(await familySignIn(srv, staff, randomPhone(), { name: `F${i}` }));
  });

  after(async () => {
    control('ok');
    if (srv) await srv.cleanup();
  });

  it('with space: each family submits one application (201)', async () => {
    for (const fam of fams) {
      const r = await submit(newSubmission(fam));
      assert.equal(r.status, 201, r.text);
    }
  });

  it('disk full: submissions, reviews, window changes, codes and staff sign-ins get 503 + Retry-After; reads still work', async () => {
    const pid = srv.pid;
    control('full');
    for (const fam of fams) {
      const q = newSubmission(fam);
      assertUnavailable(await submit(q), 'a submission on a full disk');
      assert.equal(q.acked, null);
      // the same request again, still full: still 503, never a 201
      assertUnavailable(await submit(q), 'the same submission again');
    }
    const review = await staff.request('POST', `/api/applications/${sent[0].acked}/review`, {
      json: { decision: 'verified', note: '户口本原件已核验' },
    });
    assertUnavailable(review, 'a review decision');
    const now = Date.now();
    const win = await staff.request('PUT', '/api/window', {
      json: { opens: new Date(now - 3600e3).toISOString().replace(/\.\d+Z$/, 'Z'), closes: new Date(now + 86400e3).toISOString().replace(/\.\d+Z$/, 'Z') },
    });
    assertUnavailable(win, 'a window change');
    const code = await fams[0].request('POST', '/api/family/code', { json: { phone: randomPhone() } });
    assertUnavailable(code, 'a code request');
    const login = await staffLogin(srv).catch((e) => e);
    assert.ok(login instanceof Error && /staff login: 503/.test(login.message), String(login));
    // reading needs no space
    const list = await fams[0].request('GET', '/api/applications');
    assert.equal(list.status, 200, list.text);
    assert.equal(list.json.applications.length, 1);
    const one = await fams[0].request('GET', `/api/applications/${sent[0].acked}`);
    assert.equal(one.status, 200, one.text);
    assert.equal(srv.pid, pid, 'the same process');
  });

  it('I/O errors: every change gets 503 + Retry-After, reads 200 or 503, no client is signed out', async () => {
    control('ioerr');
    for (const fam of fams) {
      const q = newSubmission(fam);
      assertUnavailable(await submit(q), 'a submission during I/O errors');
      assertReadOrUnavailable(await fam.request('GET', '/api/applications'), 'a list during I/O errors');
      assertReadOrUnavailable(await fam.request('GET', '/api/me'), 'who am I during I/O errors');
    }
    assertUnavailable(await staff.request('POST', `/api/applications/${sent[0].acked}/review`, {
      json: { decision: 'verified', note: '户口本原件已核验' },
    }), 'a review decision during I/O errors');
    assertReadOrUnavailable(await fams[0].request('GET', '/api/health'), 'health during I/O errors');
    // a new session cannot be written: 503, not a 401 or a 500
    const login = await staffLogin(srv).catch((e) => e);
    assert.ok(login instanceof Error && /staff login: 503/.test(login.message), String(login));
  });

  it('space returns: the same process takes every refused request again', async () => {
    const pid = srv.pid;
    control('ok');
    for (const q of sent.filter((x) => !x.acked)) {
      const r = await submit(q);
      assert.equal(r.status, 201, `resent with its key: ${r.text}`);
    }
    const review = await staff.request('POST', `/api/applications/${sent[0].acked}/review`, {
      json: { decision: 'verified', note: '户口本原件已核验' },
    });
    assert.equal(review.status, 200, review.text);
    const c = await staffLogin(srv); // a new session can be written again
    assert.ok(c.cookie);
    const h = await c.request('GET', '/api/health');
    assert.equal(h.status, 200, h.text);
    assert.equal(srv.pid, pid, 'no restart');
  });

  for (const kind of ['full', 'ioerr']) {
    it(`a disk that ${kind === 'full' ? 'fills' : 'fails'} in the middle of a burst: each answer is 201 or 503 + Retry-After, and every 201 stays`, async () => {
      let acked = 0;
      let refused = 0;
      for (const n of [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 200]) {
        control(`${kind} after ${n}`);
        const burst = [];
        for (const fam of fams) for (let k = 0; k < 2; k++) burst.push(newSubmission(fam));
        const answers = await Promise.all(burst.map((q) => submit(q)));
        for (const [i, r] of answers.entries()) {
          if (r.status === 201) acked++;
          else {
            assertUnavailable(r, `burst after ${n} operations, request ${i}`);
            refused++;
          }
        }
        control('ok');
        // the refused ones again, with their keys: each is stored once
        for (const q of burst.filter((x) => !x.acked)) {
          const r = await submit(q);
          assert.ok(r.status === 201 || r.status === 200, `resent: ${r.status} ${r.text}`);
        }
      }
      assert.ok(acked > 0 && refused > 0, `some acknowledged (${acked}), some refused (${refused})`);
    });
  }

  async function everyReceiptOnce(label, resend) {
    for (const fam of fams) {
      const mine = sent.filter((q) => q.fam === fam);
      const list = await fam.request('GET', '/api/applications');
      assert.equal(list.status, 200, `${label}: ${list.text}`);
      const got = list.json.applications.map((a) => a.receipt).sort();
      assert.deepEqual(got, mine.map((q) => q.acked).sort(), `${label}: one application per child sent, each acknowledged receipt once`);
      for (const [i, q] of mine.entries()) {
        const r = await fam.request('GET', `/api/applications/${q.acked}`);
        assert.equal(r.status, 200, `${label}: ${r.text}`);
        if (!resend && i % 8 !== 0) continue;
        // the same key again: the same receipt, nothing new
        const again = await create(fam, q.key, q.json);
        assert.equal(again.status, 200, `${label}: ${again.text}`);
        assert.equal(again.json.receipt, q.acked);
      }
    }
  }

  it('every acknowledged receipt is there exactly once, and after a SIGKILL and restart too', async () => {
    assert.ok(sent.every((q) => q.acked), 'every submission was acknowledged in the end');
    await everyReceiptOnce('before the kill', true);
    await srv.kill();
    await srv.start();
    await everyReceiptOnce('after the restart', false);
  });
});

// Children born before the demo policy's cutoff (2020-08-31), each unique.
let serial = 0;
function eligibleChildId() {
  serial++;
  const d17 = `510107${2020}${String(1 + (serial % 8)).padStart(2, '0')}${String(1 + (serial % 27)).padStart(2, '0')}${String(100 + serial).slice(-3)}`;
  return d17 + checkChar(d17);
}
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('the intake steps on a failing disk: 503 with Retry-After, then the same step succeeds', () => {
  let srv;
  let staff;
  let district;
  const fams = [];

  before(async () => {
    control('ok');
    const tmp = mkdtempSync(join(tmpdir(), 'rx-faults-intake-'));
    district = join(tmp, 'city');
    const g = spawnSync(process.env.RUXUE, ['demo', '--out', district, '--students', '100', '--schools', '6', '--seed', '5']);
    assert.equal(g.status, 0, String(g.stderr));
    srv = await startServer({ label: 'faults-intake', extraArgs: ['--district', district] });
    staff = await staffLogin(srv);
    // a private school: its lottery needs no verified residence
    const priv = readFileSync(join(district, 'schools.csv'), 'utf8').split('\r\n').map((l) => l.split(','))
      .find((r) => r[2] === 'private')[0];
    for (let i = 0; i < 4; i++) {
      const client = await familySignIn(srv, staff);
      const r = await client.request('POST', '/api/applications', {
        json: { id_number: eligibleChildId(), submit: true, child_name: `孩子${i}`, private_choices: [priv] },
        headers: { 'Idempotency-Key': idemKey() },
      });
      assert.equal(r.status, 201, r.text);
      fams.push({ client, receipt: r.json.receipt });
    }
  });

  after(async () => {
    control('ok');
    if (srv) await srv.cleanup();
  });

  // step() on a full disk, on I/O errors, on a disk that fills or fails part
  // way (after n file operations): 503 + Retry-After each time, or (part way)
  // done before the fault came; then with space the same step succeeds
  async function underFaults(name, step, wantOk = 200) {
    const pid = srv.pid;
    let refused = 0;
    // every point of the step in turn: the Nth file operation from its start fails (N = 1, 2, ...)
    const faults = ['full', 'ioerr'];
    for (let n = 0; n < 400; n++) faults.push(`full after ${n}`, `ioerr after ${n}`);
    for (const fault of faults) {
      control(fault);
      const r = await step();
      control('ok');
      if (r.status === wantOk) { // done before the fault came (never on a disk that fails from the start)
        assert.ok(refused >= 2, `${name}: done on a failing disk (${fault}): ${r.text}`);
        console.log(`# ${name}: refused ${refused} times, then done before '${fault}' came`);
        return { r, refused };
      }
      assertUnavailable(r, `${name} (${fault})`);
      refused++;
    }
    const r = await step();
    assert.equal(r.status, wantOk, `${name} once space returned: ${r.text}`);
    console.log(`# ${name}: refused ${refused} times, then done`);
    assert.equal(srv.pid, pid, 'the same process');
    return { r, refused };
  }

  it('each step of the intake, refused while the disk fails, succeeds once it works', async () => {
    const up = await underFaults('upload schools.csv', () =>
      staff.request('PUT', '/api/district/schools.csv', { body: readFileSync(join(district, 'schools.csv'), 'utf8') }));
    assert.ok(up.refused >= 2);
    const c = await underFaults('commit', () => staff.request('POST', '/api/intake/commit'));
    assert.match(c.r.json.commitment, /^[0-9a-f]{64}$/);
    const now = Date.now();
    const w = await underFaults('close the window', () =>
      staff.request('PUT', '/api/window', { json: { opens: iso(now - 86400e3), closes: iso(Date.now() + 1500) } }));
    assert.ok(w.refused >= 2);
    await sleep(2000);
    const fz = await underFaults('freeze', () => staff.request('POST', '/api/intake/freeze'));
    assert.equal(fz.r.json.applicants, 4, fz.r.text);
    await underFaults('draw', () => staff.request('POST', '/api/intake/draw', { json: { entropy: '2027-06-30 福彩3D 4 7 1' } }));
    const run = await underFaults('official run', () => staff.request('POST', '/api/intake/run'));
    assert.equal(run.r.json.checks.sound, true, run.r.text);
    const deadline = Date.now() + 3600e3;
    const pub = await underFaults('publish', () => staff.request('POST', '/api/intake/publish', { json: { deadline: iso(deadline) } }));
    assert.equal(pub.r.json.checks.sound, true, pub.r.text);
    const placed = [];
    for (const f of fams) {
      const r = await f.client.request('GET', `/api/applications/${f.receipt}/result`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.published, true);
      if (r.json.offer?.status === 'offered') placed.push(f);
    }
    assert.ok(placed.length > 0);
    const acc = await underFaults('accept', () => placed[0].client.request('POST', `/api/applications/${placed[0].receipt}/accept`));
    assert.ok(acc.refused >= 2);
    placed[0].accepted = true;
  });

  it('after a restart the results and the acceptance are there, and the audit chain verifies', async () => {
    await srv.kill();
    await srv.start();
    for (const f of fams) {
      const r = await f.client.request('GET', `/api/applications/${f.receipt}/result`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.published, true);
      if (f.accepted) assert.equal(r.json.offer.status, 'accepted', r.text);
    }
    await srv.stop();
    const v = spawnSync(process.env.RUXUE, ['audit', 'verify', '--db', srv.db], { encoding: 'utf8' });
    assert.equal(v.status, 0, v.stdout + v.stderr);
    await srv.start();
  });
});
