// durability.test.mjs - nothing acknowledged is lost, nothing is done
// twice: many families submit at once, the server is SIGKILLed with
// requests in flight, restarted, and every request is sent again with its
// Idempotency-Key.
//
//   RUXUE=build/ruxue node --test tests/e2e/durability.test.mjs
//
// Each round, WORKERS threads (load-worker.mjs) keep LANES submissions in
// flight for every family, each a new child with a fresh key, so that the
// server, not the client, is the bottleneck when the SIGKILL comes (from a
// single event loop the server had answered everything before the kill,
// seen on Node 18).  Then: restart on the same store and key; every
// acknowledged receipt reads back (200, same pseudonym and masked number)
// as its family, whose session is in the store; every request ever sent is
// sent again with its key (acknowledged: 200 and the same receipt;
// unacknowledged: 200 if it had committed, else 201); and each family's
// list holds exactly one application per child sent.
//
// The families are signed in SIGNINS_PER_START at a time with a clean
// restart (SIGTERM) in between. The per-address limits of rx_api.c (300
// codes and 300 sign-ins a minute, all from 127.0.0.1 here) would allow
// them in one go; the restarts stay because they show that sessions (in the
// store) outlive a clean stop, and that the stop itself exits 0.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';

import { familySignIn, masked, randomPhone, REGIONS, staffLogin, startServer } from './harness.mjs';

const FAMILIES = Number(process.env.RUXUE_E2E_FAMILIES || 40);
const LANES = Number(process.env.RUXUE_E2E_LANES || 5); // submissions a family keeps in flight
const MAX_PER_LANE = 25; // children one lane submits in a round at most
const WORKERS = 4; // client threads (one event loop cannot keep the server busy)
const ROUNDS = Number(process.env.RUXUE_E2E_ROUNDS || 3);
const SIGNINS_PER_START = 20; // then a clean restart (see above)
const KILL_AT_MS = [250, 120, 500]; // SIGKILL this long into a round (different each round)
const MIN_ACKED = 20; // ... and not before this many are acknowledged

const PSEUDONYM = /^P[0-9a-f]{16}$/;

// fn over items, at most n at once; results in order
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

// t.diagnostic where the runner has it (Node 18's it() may not pass a context)
const diag = (t, msg) => (t && typeof t.diagnostic === 'function' ? t.diagnostic(msg) : console.log(`# ${msg}`));

describe('durability under SIGKILL', () => {
  let srv;
  const families = []; // Client, with .children: Map id -> {receipt, pseudonym}
  const requests = []; // every create ever sent: {fam, idem, id, json, round, acked, receipt, ...}
  const bodies = []; // every response text, to check no full ID number is in one
  const onBody = (text, meta) => bodies.push({ text, ...meta });
  const inFlightAtKill = []; // per round: requests without an answer when killed

  before(async () => {
    srv = await startServer({ label: 'durability' });
  });

  after(async () => {
    if (!srv) return;
    const r = await srv.stop();
    await srv.cleanup();
    if (r) console.log(`# final SIGTERM stop: exit ${r.code}, ${r.ms} ms${r.timedOut ? ', timed out' : ''}`);
  });

  it(`signs in ${FAMILIES} families (${SIGNINS_PER_START} per server start)`, async (t) => {
    const t0 = Date.now();
    while (families.length < FAMILIES) {
      if (families.length > 0) {
        await srv.restart(); // a clean stop: SIGTERM, then start again
        const stop = srv.exits[srv.exits.length - 1];
        assert.equal(stop.code, 0, `SIGTERM stop: ${JSON.stringify(stop)}`);
      }
      const staff = await staffLogin(srv);
      const n = Math.min(SIGNINS_PER_START, FAMILIES - families.length);
      for (let i = 0; i < n; i++) {
        const f = await familySignIn(srv, staff, randomPhone(), { onBody, name: `F${families.length}` });
        f.children = new Map();
        families.push(f);
      }
    }
    // every session, including those from before a restart, still works
    const me = await Promise.all(families.map((f) => f.request('GET', '/api/me')));
    assert.deepEqual(me.map((r) => r.status), families.map(() => 200));
    diag(t, `${families.length} families signed in in ${Date.now() - t0} ms`);
  });

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: SIGKILL with submissions in flight, restart, resend everything`, async (t) => {
      assert.equal(families.length, FAMILIES, 'the families are signed in');
      const t0 = Date.now();

      // ---- fire: WORKERS threads, each for its share of the families;
      // every family keeps LANES submissions in flight, each a new child
      // with its own key, one after another, until the kill
      const seen = requests.map((q) => q.id);
      const workers = [];
      for (let w = 0; w < WORKERS; w++) {
        const mine = families.map((f, index) => ({ index, cookie: f.cookie, csrf: f.csrf }))
          .filter((f) => f.index % WORKERS === w);
        workers.push(new Worker(new URL('./load-worker.mjs', import.meta.url), {
          workerData: { base: srv.base, families: mine, lanes: LANES, maxPerLane: MAX_PER_LANE, round, seen, region: REGIONS[w % REGIONS.length] },
        }));
      }
      let acked = 0;
      const ready = [];
      const done = workers.map((wk, w) => new Promise((resolve, reject) => {
        let isReady;
        ready.push(new Promise((r) => {
          isReady = r;
        }));
        wk.on('message', (m) => {
          if (m.type === 'ready') isReady();
          else if (m.type === 'ack') acked++;
          else if (m.type === 'done') resolve(m.records);
        });
        wk.on('error', reject);
        wk.on('exit', (code) => reject(new Error(`worker ${w} exited (${code}) before it was done`)));
      }));
      await Promise.all(ready);
      const t1 = Date.now();
      for (const wk of workers) wk.postMessage('go');
      // SIGKILL at a set time (different each round) once some are
      // acknowledged, whatever is in flight then
      const killAt = KILL_AT_MS[(round - 1) % KILL_AT_MS.length];
      const deadline = t1 + 20000;
      while ((Date.now() - t1 < killAt || acked < MIN_ACKED) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 2));
      }
      srv.signal('SIGKILL');
      const killedAt = Date.now();
      const ackedAtKill = acked;
      for (const wk of workers) wk.postMessage('stop');
      await srv.kill();
      for (const wk of workers) wk.postMessage('dead');
      const records = (await Promise.all(done)).flat();
      await Promise.all(workers.map((wk) => wk.terminate()));
      const batch = records.map((r) => ({ ...r, fam: families[r.family] }));
      for (const q of batch) {
        requests.push(q);
        if (q.bodyText !== null) bodies.push({ text: q.bodyText });
      }
      const sentAtKill = batch.length;
      if (process.env.RUXUE_E2E_DEBUG) {
        for (const q of batch) {
          if (q.failedAt && q.failedAt - killedAt > 1000) {
            console.log(`# slow failure: sent ${q.sentAt - killedAt} ms after the kill, failed ${q.failedAt - killedAt} ms after: ${q.error}`);
          }
        }
        console.log(`# workers done ${Date.now() - killedAt} ms after the kill`);
      }
      const lost = batch.filter((q) => !q.acked);
      inFlightAtKill.push(lost.length);
      const statuses = {};
      for (const q of batch) {
        const k = q.status === null ? `no answer (${q.error})` : String(q.status);
        statuses[k] = (statuses[k] || 0) + 1;
      }
      diag(t, `round ${round}: SIGKILL ${killAt} ms into the round, ${ackedAtKill} acknowledged by then; ` +
        `${sentAtKill} sent, ${batch.length - lost.length} acknowledged, ${lost.length} without an answer; ${JSON.stringify(statuses)}`);

      // a first send with a fresh key creates: 201, or no answer (killed),
      // or 503 (the store refused; nothing done); never 200, 409 or 500
      for (const q of batch) {
        if (q.status === null) continue;
        assert.ok(q.status === 201 || q.status === 503, `first send of ${q.idem}: ${q.status} ${q.error || ''}`);
        if (q.acked) {
          assert.match(q.pseudonym, PSEUDONYM);
          assert.equal(q.masked, masked(q.id));
        }
      }

      // ---- restart on the same store and key
      await srv.start();
      const health = await families[0].request('GET', '/api/health');
      assert.equal(health.status, 200, health.text);

      // every acknowledged receipt is there, as its family sees it
      const gets = await pool(batch.filter((q) => q.acked), 200, async (q) => {
        const r = await q.fam.request('GET', `/api/applications/${q.receipt}`);
        return { q, r };
      });
      for (const { q, r } of gets) {
        assert.equal(r.status, 200, `acknowledged ${q.receipt} after SIGKILL: ${r.status} ${r.text}`);
        assert.equal(r.json.receipt, q.receipt);
        assert.equal(r.json.pseudonym, q.pseudonym);
        assert.equal(r.json.id_number, masked(q.id));
        assert.equal(r.json.status, q.json.submit ? 'submitted' : 'draft');
        assert.equal(r.json.application.child_name, q.json.child_name);
      }

      // ---- every request so far again, with its key, all at once:
      // acknowledged ones give back the same receipt (200), the others
      // were either committed (200) or are created now (201)
      const again = await pool(requests, 200, async (q) => {
        const r = await q.fam.request('POST', '/api/applications', {
          json: q.json, headers: { 'Idempotency-Key': q.idem }, timeout: 20000,
        });
        return { q, r };
      });
      let committedUnacked = 0;
      let createdNow = 0;
      for (const { q, r } of again) {
        if (q.acked) {
          assert.equal(r.status, 200, `resend of acknowledged ${q.receipt} (round ${q.round}): ${r.status} ${r.text}`);
          assert.equal(r.json.receipt, q.receipt, 'the same receipt, not a second application');
          assert.equal(r.json.pseudonym, q.pseudonym);
        } else {
          assert.ok(r.status === 200 || r.status === 201,
            `resend of unacknowledged ${q.idem} (round ${q.round}): ${r.status} ${r.text}`);
          if (r.status === 200) committedUnacked++;
          else createdNow++;
          q.acked = true;
          q.receipt = r.json.receipt;
          q.pseudonym = r.json.pseudonym;
        }
        assert.equal(r.json.id_number, masked(q.id));
        const known = q.fam.children.get(q.id);
        if (known) assert.equal(known.receipt, q.receipt, `one receipt per child (${q.fam.name})`);
        q.fam.children.set(q.id, { receipt: q.receipt, pseudonym: q.pseudonym });
      }
      diag(t, `round ${round}: of ${lost.length} unacknowledged, ${committedUnacked} had committed, ${createdNow} created on resend`);

      // ---- each family: exactly one application per child, nothing else
      const lists = await Promise.all(families.map((f) => f.request('GET', '/api/applications')));
      let total = 0;
      for (let i = 0; i < families.length; i++) {
        const f = families[i];
        const r = lists[i];
        assert.equal(r.status, 200, r.text);
        const apps = r.json.applications;
        const want = [...f.children.values()];
        assert.equal(apps.length, want.length, `${f.name}: ${apps.length} applications for ${want.length} children`);
        assert.deepEqual(apps.map((a) => a.receipt).sort(), want.map((c) => c.receipt).sort(), f.name);
        assert.equal(new Set(apps.map((a) => a.pseudonym)).size, apps.length, `${f.name}: a child twice`);
        assert.deepEqual(apps.map((a) => a.pseudonym).sort(), want.map((c) => c.pseudonym).sort(), f.name);
        total += apps.length;
      }
      assert.equal(total, new Set(requests.map((q) => q.id)).size, 'one application per child sent');
      const h2 = await families[0].request('GET', '/api/health');
      assert.equal(h2.json.applications, total, h2.text);
      diag(t, `round ${round}: ${total} applications in the store, ${Date.now() - t0} ms`);
    });
  }

  it('the kills caught requests in flight', (t) => {
    diag(t, `unanswered at each kill: ${inFlightAtKill.join(', ')}`);
    assert.ok(inFlightAtKill.some((n) => n > 0), 'every round had finished before its SIGKILL: nothing was tested');
  });

  it('no response body held a full ID number', () => {
    const ids = requests.map((q) => q.id);
    assert.ok(bodies.length > requests.length, `${bodies.length} bodies`);
    const all = bodies.map((b) => b.text).join('\n');
    for (const id of ids) assert.ok(!all.includes(id), 'a response holds a full ID number');
  });
});
