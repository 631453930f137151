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

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { familySignIn, randomChildId, randomPhone, staffLogin, startServer } from './harness.mjs';

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
    rmSync(ctlDir, { recursive: true, force: true });
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
