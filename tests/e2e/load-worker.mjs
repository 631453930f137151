// load-worker.mjs - a worker thread of durability.test.mjs: it submits
// applications for its share of the families, LANES at a time per family
// (each lane one new child after another, each with its own
// Idempotency-Key), until told to stop or the server is gone.  Several
// workers keep the server, not the test's one event loop, the bottleneck,
// so a SIGKILL lands while the server holds requests it has not answered.
//
// workerData: {base, families: [{index, cookie, csrf}], lanes, maxPerLane, round,
//              region (of the children's ID numbers), seen (ids used before)}
// messages out: {type: 'ready'}, {type: 'ack'} per acknowledged request,
//               {type: 'done', records: [...]}
// messages in:  'go', 'stop' (send no more), 'dead' (the server is killed:
//               give up on the requests still pending)

import { parentPort, workerData } from 'node:worker_threads';

import { Client, idemKey, randomChildId } from './harness.mjs';

const { base, families, lanes, maxPerLane, round, seen, region } = workerData;
const server = { base };
const records = [];
let stopped = false;
// Aborted once the server is dead: a request cut off by the SIGKILL can
// otherwise stay pending in fetch for a long while (seen on Node 20: until
// a 20 s timeout), though no answer can come any more.
const abort = new AbortController();
const used = new Set(seen); // child ids the other rounds used (never reuse one)

function childId() {
  for (;;) {
    const id = randomChildId({ region });
    if (!used.has(id)) {
      used.add(id);
      return id;
    }
  }
}

async function lane(fam, laneNo) {
  const c = new Client(server);
  c.cookie = fam.cookie;
  c.csrf = fam.csrf;
  for (let n = 0; n < maxPerLane && !stopped; n++) {
    const id = childId();
    const q = {
      family: fam.index, id, round, idem: idemKey(), acked: false, status: null, error: null,
      receipt: null, pseudonym: null, masked: null, bodyText: null,
      json: { id_number: id, child_name: `孩子${round}-${laneNo}-${n}`, submit: n % 2 === 0 },
    };
    records.push(q);
    q.sentAt = Date.now();
    try {
      const r = await c.request('POST', '/api/applications', {
        json: q.json, headers: { 'Idempotency-Key': q.idem }, signal: abort.signal,
      });
      q.status = r.status;
      q.bodyText = r.text;
      if (r.status === 200 || r.status === 201) {
        q.acked = true;
        q.receipt = r.json.receipt;
        q.pseudonym = r.json.pseudonym;
        q.masked = r.json.id_number;
        parentPort.postMessage({ type: 'ack' });
      } else {
        q.error = r.text;
      }
    } catch (e) {
      q.error = (e.cause && (e.cause.code || e.cause.message)) || e.message;
      q.failedAt = Date.now();
      return; // the server is gone
    }
  }
}

parentPort.on('message', async (m) => {
  if (m === 'stop') {
    stopped = true;
    return;
  }
  if (m === 'dead') {
    stopped = true;
    abort.abort();
    return;
  }
  if (m !== 'go') return;
  const all = [];
  for (const fam of families) for (let l = 0; l < lanes; l++) all.push(lane(fam, l));
  await Promise.allSettled(all);
  parentPort.postMessage({ type: 'done', records });
});
parentPort.postMessage({ type: 'ready' });
