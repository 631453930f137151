#!/usr/bin/env node
// kill_loop.mjs - SIGKILL `ruxue serve` again and again during a
// submission surge; after every restart, every receipt a client was given
// is in the store exactly once (issue #7, item 1).
//
//   RUXUE=build/ruxue node tests/soak/kill_loop.mjs [--kills N] [--connections C]
//       [--interval S] [--families F] [--workers W] [--api-every K] [--keep]
//
//   make soak                 100 kills x 1,000 connections (the record in docs/reliability.md)
//   meson test soak_short     5 kills x 200 connections (part of make test)
//
// Set-up: a fresh store; F families (default C / 10, at least 20) sign in
// through the API as a family does (code from the demo outbox); the
// per-address sign-in limits live in the server's memory, so the sign-ins
// go 20 to a server start with a clean restart (SIGTERM) in between, and
// again after any 429.
//
// Each round:
//   1. W worker threads (surge-worker.mjs) open C connections between them,
//      each a lane of one family submitting a new child after another, each
//      with a fresh Idempotency-Key; every 201 is written to the worker's
//      log file the moment it arrives;
//   2. SIGKILL at a random moment between S/2 and 3S/2 seconds into the
//      surge (once at least 50 are acknowledged), whatever is in flight;
//   3. restart on the same store and key; every request that got no answer
//      (or a 503) is sent again with its key, as a client does: 200 (it had
//      committed before the kill: the same application, not a second) or
//      201 (it had not: created now); those receipts are logged too;
//   4. check_store.py compares every receipt logged since the start of the
//      run with the store, read-only: none lost, none given twice, no
//      application twice (receipt, family+key, child), none that no client
//      holds a receipt for, none whose key or pseudonym differs;
//   5. every K rounds (--api-every, default 10) and after the last: every
//      family's GET /api/applications lists exactly its logged receipts.
// A round fails on any count other than 0 and on any answer other than
// 201, 503 or no answer (the kill) during the surge.
//
// Prints a line per round and at the end one line a script can read:
//   SOAK kills=K connections=C interval_s=S families=F sent=N acknowledged=A
//        lost=0 duplicates=0 extra=0 mismatched=0 stored=N in_flight_at_kills=U
//        committed_unanswered=X created_on_resend=Y conns_at_kill_median=M wall_s=T
// Exit 0 when every round held, 1 otherwise, 2 on bad usage.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { Client, familySignIn, randomPhone, staffLogin, startServer } from '../e2e/harness.mjs';
import { COUNTER, COUNTERS } from './soak-lib.mjs';

const HERE = new URL('.', import.meta.url).pathname;
const SIGNINS_PER_START = 20; // the per-address limit of one minute (rx_api.c)
const MIN_ACKED = 50; // no kill before this many are acknowledged in the round
const SURGE_DEADLINE_MS = 30000; // ... unless the surge cannot get there in this long
const RESEND_CONCURRENCY = 100;
const RESEND_TRIES = 20;

function usage(msg) {
  if (msg) process.stderr.write(`kill_loop: ${msg}\n`);
  process.stderr.write('usage: RUXUE=build/ruxue node tests/soak/kill_loop.mjs [--kills N] [--connections C]\n' +
    '         [--interval S] [--families F] [--workers W] [--api-every K] [--keep]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { kills: 5, connections: 200, interval: 1, families: 0, workers: 4, apiEvery: 10, keep: false };
  const names = { '--kills': 'kills', '--connections': 'connections', '--interval': 'interval',
    '--families': 'families', '--workers': 'workers', '--api-every': 'apiEvery' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--keep') {
      o.keep = true;
      continue;
    }
    if (a === '--help' || a === '-h') usage();
    const k = names[a];
    if (!k) usage(`unknown option '${a}'`);
    const v = Number(argv[++i]);
    if (!Number.isFinite(v) || v <= 0 || (k !== 'interval' && !Number.isInteger(v))) {
      usage(`${a}: expected a positive ${k === 'interval' ? 'number' : 'whole number'}, found '${argv[i]}'`);
    }
    o[k] = v;
  }
  if (!o.families) o.families = Math.max(20, Math.round(o.connections / 10));
  if (o.families > o.connections) usage('--families: at most one family per connection');
  return o;
}

const opt = parseArgs(process.argv.slice(2));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (s) => process.stdout.write(`${s}\n`);

// fn over items, at most n at once
async function pool(items, n, fn) {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, run));
}

// Established TCP connections to the server's port (IPv4 loopback), from /proc/net/tcp.
function connectionsTo(port) {
  try {
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    return readFileSync('/proc/net/tcp', 'utf8').split('\n')
      .filter((l) => {
        const f = l.trim().split(/\s+/);
        return f.length > 3 && f[1].endsWith(`:${hex}`) && f[3] === '01';
      }).length;
  } catch {
    return -1;
  }
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

const t0 = Date.now();
const srv = await startServer({ label: 'soak' });
const logDir = join(srv.dir, 'receipts');
spawnSync('mkdir', ['-p', logDir]);
const failures = [];
const fail = (msg) => {
  failures.push(msg);
  say(`FAIL ${msg}`);
};

try {
  // ---- families, through the API, 20 to a server start
  const families = [];
  let staff = await staffLogin(srv);
  let sinceStart = 0;
  while (families.length < opt.families) {
    if (sinceStart >= SIGNINS_PER_START) {
      await srv.restart();
      staff = await staffLogin(srv);
      sinceStart = 0;
    }
    try {
      sinceStart++;
      families.push(await familySignIn(srv, staff, randomPhone(), { name: `F${families.length}` }));
    } catch (e) {
      if (!/\b429\b/.test(e.message)) throw e;
      sinceStart = SIGNINS_PER_START; // a limit: restart and go on
    }
  }
  say(`# ${families.length} families signed in in ${Date.now() - t0} ms`);

  const counters = new SharedArrayBuffer(8 * COUNTERS);
  const count = new BigInt64Array(counters);
  const get = (k) => Number(Atomics.load(count, COUNTER[k]));
  const resendLog = join(logDir, 'resend.log');
  writeFileSync(resendLog, '');
  const totals = { inFlight: [], conns: [], committed: 0, created: 0, check: null };

  for (let round = 1; round <= opt.kills; round++) {
    const r0 = Date.now();
    // ---- 1. the surge: C lanes over W workers, lane i for family i mod F
    const lanes = Array.from({ length: opt.connections }, (_, i) => {
      const f = families[i % families.length];
      return { family: i % families.length, cookie: f.cookie, csrf: f.csrf };
    });
    const workers = [];
    const ready = [];
    const done = [];
    for (let w = 0; w < opt.workers; w++) {
      const wk = new Worker(new URL('./surge-worker.mjs', import.meta.url), {
        workerData: {
          base: srv.base, lanes: lanes.filter((_, i) => i % opt.workers === w),
          log: join(logDir, `w${w}.log`), counters, round, worker: w,
        },
      });
      workers.push(wk);
      ready.push(new Promise((res) => wk.once('message', res)));
      done.push(new Promise((res, rej) => {
        wk.on('message', (m) => m.type === 'done' && res(m));
        wk.on('error', rej);
        wk.on('exit', (code) => rej(new Error(`worker ${w} exited (${code}) before it was done`)));
      }));
    }
    await Promise.all(ready);
    const acked0 = get('acked');
    const sent0 = get('sent');
    const answered0 = get('answered');
    const go = Date.now();
    for (const wk of workers) wk.postMessage('go');

    // ---- 2. SIGKILL at a random moment, with the surge going
    const killAt = (opt.interval * 1000) * (0.5 + Math.random());
    while ((Date.now() - go < killAt || get('acked') - acked0 < MIN_ACKED) && Date.now() - go < SURGE_DEADLINE_MS) {
      await sleep(5);
    }
    const conns = connectionsTo(srv.port);
    const inFlight = (get('sent') - sent0) - (get('answered') - answered0);
    srv.signal('SIGKILL');
    const killedMs = Date.now() - go;
    for (const wk of workers) wk.postMessage('stop');
    await srv.kill();
    for (const wk of workers) wk.postMessage('dead');
    const results = await Promise.all(done);
    await Promise.all(workers.map((wk) => wk.terminate()));
    const unanswered = results.flatMap((m) => m.unanswered);
    for (const m of results) {
      for (const u of m.unexpected) fail(`round ${round}: answer ${u.status} to ${u.idem}: ${u.text}`);
    }
    totals.inFlight.push(inFlight);
    totals.conns.push(conns);
    const ackedRound = get('acked') - acked0;

    // ---- 3. restart; every unanswered request again, with its key
    await srv.start();
    const fams = families;
    let committed = 0;
    let created = 0;
    const lines = [];
    await pool(unanswered, RESEND_CONCURRENCY, async (q) => {
      for (let tr = 1; ; tr++) {
        let r = null;
        try {
          r = await fams[q.family].request('POST', '/api/applications', {
            json: q.json, headers: { 'Idempotency-Key': q.idem }, timeout: 30000,
          });
        } catch (e) {
          if (tr >= RESEND_TRIES) {
            fail(`round ${round}: resend of ${q.idem}: ${e.message}`);
            return;
          }
        }
        if (r && (r.status === 200 || r.status === 201)) {
          if (r.status === 200) committed++;
          else created++;
          lines.push(`${r.json.receipt} ${q.family} ${q.idem} ${r.status} ${round} ${r.json.pseudonym}\n`);
          return;
        }
        if (r && r.status !== 503) {
          fail(`round ${round}: resend of ${q.idem}: ${r.status} ${r.text.slice(0, 300)}`);
          return;
        }
        if (tr >= RESEND_TRIES) {
          fail(`round ${round}: resend of ${q.idem}: still 503 after ${tr} tries`);
          return;
        }
        await sleep(100);
      }
    });
    writeFileSync(resendLog, lines.join(''), { flag: 'a' });
    totals.committed += committed;
    totals.created += created;

    // ---- 4. the store against every receipt logged so far
    const logs = readdirSync(logDir).filter((f) => f.endsWith('.log')).map((f) => join(logDir, f));
    const chk = spawnSync('python3', [join(HERE, 'check_store.py'), srv.db, ...logs], { encoding: 'utf8' });
    if (chk.status !== 0) {
      fail(`round ${round}: check_store.py: exit ${chk.status} ${chk.stderr}`);
      break;
    }
    const c = JSON.parse(chk.stdout);
    totals.check = c;
    for (const k of ['lost', 'dup_receipts', 'dup_store', 'extra', 'mismatched']) {
      if (c[k] !== 0) fail(`round ${round}: ${k} = ${c[k]} (${chk.stdout.trim()})`);
    }
    if (c.stored !== get('sent')) fail(`round ${round}: ${c.stored} applications stored for ${get('sent')} requests sent`);

    // ---- 5. as each family, through the API
    if (round % opt.apiEvery === 0 || round === opt.kills) {
      const byFamily = families.map(() => new Set());
      for (const f of logs) {
        for (const line of readFileSync(f, 'utf8').split('\n')) {
          if (!line) continue;
          const [receipt, family] = line.split(' ');
          byFamily[Number(family)].add(receipt);
        }
      }
      await pool(families.map((f, i) => i), 20, async (i) => {
        const r = await families[i].request('GET', '/api/applications', { timeout: 60000 });
        if (r.status !== 200) {
          fail(`round ${round}: family ${i}: GET /api/applications ${r.status} ${r.text.slice(0, 200)}`);
          return;
        }
        const got = r.json.applications.map((a) => a.receipt);
        const want = byFamily[i];
        const missing = [...want].filter((x) => !got.includes(x)).length;
        if (got.length !== want.size || missing) {
          fail(`round ${round}: family ${i} lists ${got.length} applications, its log ${want.size}, ${missing} missing`);
        }
      });
      say(`# round ${round}: every family's list is its log`);
    }

    say(`round ${round}: SIGKILL ${killedMs} ms into the surge, ${conns} connections open, ` +
      `${ackedRound} acknowledged, ${inFlight} in flight; of ${unanswered.length} unanswered ` +
      `${committed} had committed, ${created} created on resend; store ${c.stored}, lost ${c.lost}, ` +
      `duplicates ${c.dup_receipts + c.dup_store}, extra ${c.extra}; ${Date.now() - r0} ms`);
    if (failures.length) break;
  }

  const c = totals.check || {};
  const stop = await srv.stop();
  if (!stop || stop.code !== 0) fail(`final SIGTERM stop: ${JSON.stringify(stop)}`);
  if (totals.inFlight.length === opt.kills && !totals.inFlight.some((n) => n > 0)) {
    fail('no kill caught a request in flight: nothing was tested');
  }
  const dups = (c.dup_receipts ?? 0) + (c.dup_store ?? 0);
  say(`SOAK kills=${totals.inFlight.length} connections=${opt.connections} interval_s=${opt.interval} ` +
    `families=${families.length} sent=${get('sent')} acknowledged=${c.acknowledged} lost=${c.lost} ` +
    `duplicates=${dups} extra=${c.extra} mismatched=${c.mismatched} stored=${c.stored} ` +
    `in_flight_at_kills=${totals.inFlight.reduce((a, b) => a + b, 0)} committed_unanswered=${totals.committed} ` +
    `created_on_resend=${totals.created} conns_at_kill_median=${median(totals.conns)} ` +
    `wall_s=${((Date.now() - t0) / 1000).toFixed(1)}`);
} catch (e) {
  fail(`${e.stack || e}`);
} finally {
  if (opt.keep) {
    await srv.stop();
    say(`# kept ${srv.dir}`);
  } else {
    await srv.cleanup();
  }
}
process.exit(failures.length ? 1 : 0);
