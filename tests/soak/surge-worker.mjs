// surge-worker.mjs - a worker thread of kill_loop.mjs (and of the backup
// test): it keeps its lanes (connections) submitting applications until
// told to stop or the server is gone.  A lane first sends again, with
// their Idempotency-Keys, the requests of its family that got no answer
// before an earlier kill (pending), then one new child after another, each
// with a fresh key.  Every acknowledged receipt is written to this
// worker's log file as its answer arrives (a synchronous write before
// anything else happens), so the log is the client's own record,
// independent of the server's.
//
// node:http with a keep-alive agent rather than fetch: less of the
// client's CPU per request, which on a shared machine goes to the server.
//
// workerData: {lanes: [{family, cookie, csrf}], log (file path),
//              counters (SharedArrayBuffer: soak-lib.mjs), worker}
// messages in:  {type: 'go', base, round, pending: [{family, idem, json}]}
//               starts a round (the thread lives on from round to round),
//               'stop' (send no more), 'dead' (the server is killed: give
//               up on the requests still pending)
// messages out: {type: 'ready'} once, {type: 'done', unanswered: [...],
//               unexpected: [...], resent: {200: n, 201: n}} after each round
//
// A log line: "RECEIPT FAMILY IDEM STATUS ROUND PSEUDONYM": STATUS 201 for
// a first send; for a resend 200 (it had committed before the kill: the
// same application) or 201 (it had not: created now).

import { openSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parentPort, workerData } from 'node:worker_threads';

import { childIdOf, COUNTER } from './soak-lib.mjs';

const { lanes, log, counters, worker } = workerData;
const count = new BigInt64Array(counters);
const fd = openSync(log, 'a');

// One round: from 'go' to the kill (or 'stop').
class Round {
  constructor({ base, round, pending = [] }) {
    this.url = new URL(base);
    this.round = round;
    this.agent = new Agent({ keepAlive: true, maxSockets: Infinity });
    this.stopped = false;
    this.unanswered = []; // sent, no answer (or 503): sent again after the restart
    this.unexpected = []; // other answers: the run fails
    this.resent = { 200: 0, 201: 0 };
    this.toResend = new Map(); // family -> [request]
    for (const q of pending) {
      if (!this.toResend.has(q.family)) this.toResend.set(q.family, []);
      this.toResend.get(q.family).push(q);
    }
  }

  // POST one application; resolve {status, text}, reject on a network error.
  post(l, q) {
    const body = Buffer.from(JSON.stringify(q.json));
    return new Promise((resolve, reject) => {
      const req = request({
        host: this.url.hostname, port: this.url.port, path: '/api/applications', method: 'POST',
        agent: this.agent,
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': body.length,
          Cookie: `rx_session=${l.cookie}`,
          'X-CSRF-Token': l.csrf,
          'Idempotency-Key': q.idem,
        },
      }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
        res.on('aborted', () => reject(new Error('aborted')));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async lane(l) {
    const mine = this.toResend.get(l.family) || [];
    while (!this.stopped) {
      let q = mine.shift();
      const again = !!q;
      if (!q) {
        const n = Number(Atomics.add(count, COUNTER.seq, 1n));
        q = {
          family: l.family,
          idem: `soak-${String(n).padStart(8, '0')}`,
          json: { id_number: childIdOf(n), child_name: `孩子${n}`, submit: true },
        };
        Atomics.add(count, COUNTER.sent, 1n);
      }
      let r;
      try {
        r = await this.post(l, q);
      } catch (e) {
        q.error = e.code || e.message;
        this.unanswered.push(q);
        break; // the server is gone (or the connection with it)
      }
      Atomics.add(count, COUNTER.answered, 1n);
      if (r.status === 201 || (again && r.status === 200)) {
        let j = {};
        try {
          j = JSON.parse(r.text);
        } catch {
          /* checked below */
        }
        if (typeof j.receipt !== 'string' || !/^[A-Za-z0-9-]+$/.test(j.receipt)) {
          this.unexpected.push({ ...q, status: r.status, text: r.text.slice(0, 300) });
          continue;
        }
        writeSync(fd, `${j.receipt} ${q.family} ${q.idem} ${r.status} ${this.round} ${j.pseudonym}\n`);
        Atomics.add(count, COUNTER.acked, 1n);
        if (again) this.resent[r.status]++;
      } else if (r.status === 503) {
        q.error = '503';
        this.unanswered.push(q); // the store refused: nothing done, send again
      } else {
        this.unexpected.push({ ...q, status: r.status, text: r.text.slice(0, 300) });
      }
    }
    // the requests of this family not sent again before the kill stay pending
    this.unanswered.push(...mine.splice(0));
  }

  async run() {
    await Promise.allSettled(lanes.map((l) => this.lane(l)));
    this.agent.destroy();
    return { type: 'done', unanswered: this.unanswered, unexpected: this.unexpected, resent: this.resent, worker };
  }
}

let current = null;
parentPort.on('message', async (m) => {
  if (m === 'stop' && current) {
    current.stopped = true;
  } else if (m === 'dead' && current) {
    current.stopped = true;
    current.agent.destroy(); // a request cut off by the SIGKILL fails now, not after a timeout
  } else if (m && m.type === 'go') {
    current = new Round(m);
    parentPort.postMessage(await current.run());
  }
});
parentPort.postMessage({ type: 'ready' });
