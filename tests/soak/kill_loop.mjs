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
// again after any 429.  W worker threads (surge-worker.mjs) hold C lanes
// between them, lane i for family i mod F, for the whole run.
//
// Each round:
//   1. the surge: every lane first sends again, with its key, each request
//      of its family that got no answer before the last kill (as a client
//      does: 200 means it had committed, the same application and receipt;
//      201 that it had not, created now), then one new child after another,
//      each with a fresh Idempotency-Key; every receipt (200 or 201) is
//      written to the worker's log file the moment it arrives;
//   2. SIGKILL at a random moment between S/2 and 3S/2 seconds into the
//      surge (not before 10 are acknowledged in the round), whatever is in
//      flight (about C requests);
//   3. restart on the same store and key, then check_store.py (one process
//      for the run) compares every receipt logged since the start of the
//      run with the store, read-only: none lost, none given for two
//      requests, no application twice (receipt, family+key, child), none
//      whose key or pseudonym is not what the client was told, and every
//      application no receipt was logged for is a request still pending
//      (committed, its answer cut off by the kill);
//   4. every K rounds (--api-every, default 10): each family's own
//      GET /api/applications holds its logged receipts, and besides them
//      only its pending requests.
// At the end, on a server nobody kills, every pending request is sent
// again with its key; then the store holds exactly one application per
// request ever sent, each a receipt in the client's log (extra = 0), it
// passes integrity_check, and every family's list is exactly its log.
// Any count other than 0, and any answer but 201/503 to a first send or
// 200/201/503 to a resend, fails the run.
//
// Prints a line per round and at the end one line a script can read:
//   SOAK kills=K connections=C interval_s=S families=F sent=N acknowledged=A
//        lost=0 duplicates=0 extra=0 mismatched=0 stored=N in_flight_at_kills=U
//        committed_unanswered=X created_on_resend=Y conns_at_kill_median=M wall_s=T
// (committed_unanswered: requests resent after a kill that had committed
// before it; conns_at_kill: the server's established connections, from
// /proc/net/tcp.)  Exit 0 when every round held, 1 otherwise, 2 on bad usage.

import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';

import { familySignIn, randomPhone, staffLogin, startServer } from '../e2e/harness.mjs';
import { COUNTER, COUNTERS } from './soak-lib.mjs';

const HERE = new URL('.', import.meta.url).pathname;
const SIGNINS_PER_START = 20; // the per-address limit of one minute (rx_api.c)
const MIN_ACKED = 10; // no kill before this many are acknowledged in the round (the surge is on)
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

// CPU seconds (user + system) process pid has used, from /proc/PID/stat; 0 when unknown.
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

function median(a) {
  const s = [...a].sort((x, y) => x - y);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

const t0 = Date.now();
const srv = await startServer({ label: 'soak' });
const logDir = join(srv.dir, 'receipts');
mkdirSync(logDir);
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
  const totals = { inFlight: [], conns: [], resent: { 200: 0, 201: 0 }, check: null, serverCpu: 0 };
  const lanes = Array.from({ length: opt.connections }, (_, i) => {
    const f = families[i % families.length];
    return { family: i % families.length, cookie: f.cookie, csrf: f.csrf };
  });
  const laneOf = (w) => lanes.filter((_, i) => i % opt.workers === w);
  // the worker that sends a family's pending requests: the first with a lane of that family
  const hostOf = new Map();
  for (let w = opt.workers - 1; w >= 0; w--) for (const l of laneOf(w)) hostOf.set(l.family, w);
  let pending = []; // requests without an answer yet: sent again, with their keys, in the next round
  const logs = () => readdirSync(logDir).filter((f) => f.endsWith('.log')).map((f) => join(logDir, f));

  // The store against every receipt logged so far; the applications no
  // receipt was logged for must all be pending requests (committed, the
  // answer cut off by the kill), and none at all once nothing is pending.
  const checker = spawn('python3', [join(HERE, 'check_store.py'), '--serve', srv.db, logDir],
    { stdio: ['pipe', 'pipe', 'inherit'] });
  const answers = createInterface({ input: checker.stdout })[Symbol.asyncIterator]();
  const check = async (label, integrity = false) => {
    const pendingFile = join(srv.dir, 'pending.txt');
    writeFileSync(pendingFile, pending.map((q) => `${q.idem}\n`).join(''));
    checker.stdin.write(`check ${pendingFile}${integrity ? ' --integrity' : ''}\n`);
    const line = await answers.next();
    const c = line.done ? { error: 'check_store.py ended' } : JSON.parse(line.value);
    if (c.error) {
      fail(`${label}: check_store.py: ${c.error}`);
      return null;
    }
    const chk = { stdout: line.value };
    totals.check = c;
    if (integrity && c.integrity !== 'ok') fail(`${label}: integrity_check: ${c.integrity}`);
    for (const k of ['lost', 'dup_receipts', 'dup_store', 'mismatched', 'extra_unexplained']) {
      if (c[k] !== 0) fail(`${label}: ${k} = ${c[k]} (${chk.stdout.trim()})`);
    }
    if (c.acknowledged + c.extra !== c.stored) fail(`${label}: ${chk.stdout.trim()}`);
    if (c.stored > get('sent')) fail(`${label}: ${c.stored} applications stored for ${get('sent')} requests sent`);
    return c;
  };

  // Each family's own list through the API: every logged receipt of the
  // family, and besides them only pending requests of the family.
  const checkLists = async (label) => {
    const byFamily = families.map(() => new Set());
    for (const f of logs()) {
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        if (!line) continue;
        const [receipt, family] = line.split(' ');
        byFamily[Number(family)].add(receipt);
      }
    }
    const pendingOf = families.map(() => 0);
    for (const q of pending) pendingOf[q.family]++;
    await pool(families.map((f, i) => i), 10, async (i) => {
      const r = await families[i].request('GET', '/api/applications', { timeout: 120000 });
      if (r.status !== 200) {
        fail(`${label}: family ${i}: GET /api/applications ${r.status} ${r.text.slice(0, 200)}`);
        return;
      }
      const got = new Set(r.json.applications.map((a) => a.receipt));
      const want = byFamily[i];
      const missing = [...want].filter((x) => !got.has(x)).length;
      const others = got.size - (want.size - missing);
      if (missing || others > pendingOf[i] || got.size !== r.json.applications.length) {
        fail(`${label}: family ${i} lists ${r.json.applications.length} applications, its log ${want.size}: ` +
          `${missing} missing, ${others} not logged (${pendingOf[i]} pending)`);
      }
    });
    say(`# ${label}: every family's list is its log`);
  };

  // the client's threads, for the whole run
  const workers = [];
  const ready = [];
  for (let w = 0; w < opt.workers; w++) {
    const wk = new Worker(new URL('./surge-worker.mjs', import.meta.url), {
      workerData: { lanes: laneOf(w), log: join(logDir, `w${w}.log`), counters, worker: w },
    });
    workers.push(wk);
    ready.push(new Promise((res, rej) => {
      wk.once('message', res);
      wk.once('error', rej);
    }));
  }
  await Promise.all(ready);
  const roundDone = (wk) => new Promise((res, rej) => {
    const onMsg = (m) => {
      if (m.type !== 'done') return;
      wk.off('message', onMsg);
      wk.off('error', rej);
      res(m);
    };
    wk.on('message', onMsg);
    wk.once('error', rej);
  });

  for (let round = 1; round <= opt.kills; round++) {
    const r0 = Date.now();
    // ---- 1. the surge: C lanes over W workers, lane i for family i mod F;
    // the requests pending from the last kill go first, with their keys
    const done = workers.map(roundDone);
    const pendingBefore = pending.length;
    const acked0 = get('acked');
    const sent0 = get('sent');
    const answered0 = get('answered');
    const go = Date.now();
    for (let w = 0; w < opt.workers; w++) {
      workers[w].postMessage({
        type: 'go', base: srv.base, round, pending: pending.filter((q) => hostOf.get(q.family) === w),
      });
    }

    // ---- 2. SIGKILL at a random moment, with the surge going
    const killAt = (opt.interval * 1000) * (0.5 + Math.random());
    while ((Date.now() - go < killAt || get('acked') - acked0 < MIN_ACKED) && Date.now() - go < SURGE_DEADLINE_MS) {
      await sleep(5);
    }
    const conns = connectionsTo(srv.port);
    totals.serverCpu += cpuSeconds(srv.pid);
    const inFlight = (get('sent') - sent0 + pendingBefore) - (get('answered') - answered0);
    srv.signal('SIGKILL');
    const killedMs = Date.now() - go;
    for (const wk of workers) wk.postMessage('stop');
    await srv.kill();
    for (const wk of workers) wk.postMessage('dead');
    const results = await Promise.all(done);
    pending = results.flatMap((m) => m.unanswered);
    const resent = { 200: 0, 201: 0 };
    for (const m of results) {
      for (const u of m.unexpected) fail(`round ${round}: answer ${u.status} to ${u.idem}: ${u.text}`);
      resent[200] += m.resent[200];
      resent[201] += m.resent[201];
    }
    totals.resent[200] += resent[200];
    totals.resent[201] += resent[201];
    totals.inFlight.push(inFlight);
    totals.conns.push(conns);
    const ackedRound = get('acked') - acked0;

    // ---- 3. restart, then the store against every receipt logged so far
    const tKilled = Date.now();
    await srv.start();
    const tStarted = Date.now();
    const c = await check(`round ${round}`);
    const tChecked = Date.now();
    if (!c) break;
    if (round % opt.apiEvery === 0) await checkLists(`round ${round}`);
    say(`round ${round}: SIGKILL ${killedMs} ms into the surge, ${conns} connections open, ${inFlight} requests in flight; ` +
      `${ackedRound} acknowledged (of ${pendingBefore} sent again: ${resent[200]} had committed, ${resent[201]} created now); ` +
      `store ${c.stored}, lost ${c.lost}, duplicates ${c.dup_receipts + c.dup_store}, ` +
      `${c.extra} committed but unanswered (${pending.length} pending); ${Date.now() - r0} ms ` +
      `(workers ${go - r0}, surge ${killedMs}, kill ${tKilled - go - killedMs}, start ${tStarted - tKilled}, check ${tChecked - tStarted})`);
    if (failures.length) break;
  }

  // ---- the end: every request still pending sent again, with its key,
  // on a server nobody kills; then the store holds exactly one application
  // per request ever sent, each one a receipt in the client's log
  if (!failures.length) {
    const lines = [];
    await pool(pending, RESEND_CONCURRENCY, async (q) => {
      for (let tr = 1; ; tr++) {
        let r = null;
        try {
          r = await families[q.family].request('POST', '/api/applications', {
            json: q.json, headers: { 'Idempotency-Key': q.idem }, timeout: 60000,
          });
        } catch (e) {
          if (tr >= RESEND_TRIES) return fail(`final resend of ${q.idem}: ${e.message}`);
        }
        if (r && (r.status === 200 || r.status === 201)) {
          totals.resent[r.status]++;
          lines.push(`${r.json.receipt} ${q.family} ${q.idem} ${r.status} ${opt.kills + 1} ${r.json.pseudonym}\n`);
          return undefined;
        }
        if (r && r.status !== 503) return fail(`final resend of ${q.idem}: ${r.status} ${r.text.slice(0, 300)}`);
        if (tr >= RESEND_TRIES) return fail(`final resend of ${q.idem}: still 503 after ${tr} tries`);
        await sleep(100);
      }
    });
    writeFileSync(join(logDir, 'final.log'), lines.join(''));
    pending = [];
    const c = await check('the end', true);
    if (c && (c.extra !== 0 || c.stored !== get('sent'))) {
      fail(`the end: ${c.stored} applications stored, ${c.extra} of them without a receipt, for ${get('sent')} requests sent`);
    }
    await checkLists('the end');
  }

  for (const wk of workers) await wk.terminate();
  checker.stdin.end();
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
    `in_flight_at_kills=${totals.inFlight.reduce((a, b) => a + b, 0)} committed_unanswered=${totals.resent[200]} ` +
    `created_on_resend=${totals.resent[201]} conns_at_kill_median=${median(totals.conns)} ` +
    `wall_s=${((Date.now() - t0) / 1000).toFixed(1)}`);
  const cpu = process.cpuUsage(); // this process and its worker threads
  say(`# CPU: server ${totals.serverCpu.toFixed(1)} s in the surges, client ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
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
