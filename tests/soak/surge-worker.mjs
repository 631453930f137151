// surge-worker.mjs - a worker thread of kill_loop.mjs: it keeps its lanes
// (connections) submitting applications, each lane one new child after
// another with a fresh Idempotency-Key, until told to stop or the server
// is gone.  Every acknowledged receipt is written to this worker's log
// file as its answer arrives (one line, written with a synchronous write
// before anything else happens), so the log is the client's own record,
// independent of the server's.
//
// workerData: {base, lanes: [{family, cookie, csrf}], log (file path),
//              counters (SharedArrayBuffer: see COUNTER below), round, worker}
// messages out: {type: 'ready'}, {type: 'done', unanswered: [...], unexpected: [...]}
// messages in:  'go', 'stop' (send no more), 'dead' (the server is
//               killed: give up on the requests still pending)
//
// A log line: "RECEIPT FAMILY IDEM STATUS ROUND PSEUDONYM" (STATUS 201
// during the surge; kill_loop.mjs writes the resends' 200 and 201).

import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

import { childIdOf, COUNTER } from './soak-lib.mjs';

const { base, lanes, log, counters, round, worker } = workerData;
const count = new BigInt64Array(counters);
const fd = openSync(log, 'a');
const unanswered = []; // sent, no answer (or 503): resent by the main thread after the restart
const unexpected = []; // answers that are neither 201 nor 503: the run fails
let stopped = false;
// Aborted once the server is dead: a request cut off by the SIGKILL can
// otherwise stay pending in fetch for a long while.
const abort = new AbortController();

async function lane(l) {
  while (!stopped) {
    const n = Number(Atomics.add(count, COUNTER.seq, 1n));
    const q = {
      family: l.family,
      idem: `soak-${String(n).padStart(8, '0')}`,
      json: { id_number: childIdOf(n), child_name: `孩子${n}`, submit: true },
    };
    Atomics.add(count, COUNTER.sent, 1n);
    let res;
    let text;
    try {
      res = await fetch(`${base}/api/applications`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Cookie: `rx_session=${l.cookie}`,
          'X-CSRF-Token': l.csrf,
          'Idempotency-Key': q.idem,
        },
        body: JSON.stringify(q.json),
        signal: abort.signal,
      });
      text = await res.text();
    } catch (e) {
      q.error = (e.cause && (e.cause.code || e.cause.message)) || e.message;
      unanswered.push(q);
      return; // the server is gone (or the connection with it)
    }
    Atomics.add(count, COUNTER.answered, 1n);
    if (res.status === 201) {
      let j;
      try {
        j = JSON.parse(text);
      } catch {
        j = {};
      }
      if (typeof j.receipt !== 'string' || !/^[A-Za-z0-9-]+$/.test(j.receipt)) {
        unexpected.push({ ...q, status: res.status, text: text.slice(0, 300) });
        continue;
      }
      writeSync(fd, `${j.receipt} ${q.family} ${q.idem} 201 ${round} ${j.pseudonym}\n`);
      Atomics.add(count, COUNTER.acked, 1n);
    } else if (res.status === 503) {
      q.error = '503';
      unanswered.push(q); // the store refused: nothing done, send again
    } else {
      unexpected.push({ ...q, status: res.status, text: text.slice(0, 300) });
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
  await Promise.allSettled(lanes.map(lane));
  closeSync(fd);
  parentPort.postMessage({ type: 'done', unanswered, unexpected, worker });
});
parentPort.postMessage({ type: 'ready' });
