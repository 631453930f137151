// backup.test.mjs - `ruxue backup` during a surge, and the restore drill
// (issue #7, item 9; docs/backup.md).
//
//   RUXUE=build/ruxue node --test tests/e2e/backup.test.mjs
//
// Families submit without pause from worker threads (tests/soak/
// surge-worker.mjs, each 201's receipt written to a log file as it
// arrives).  With the surge going, the test reads the logs (every receipt
// acknowledged before the backup began), then runs `ruxue backup` on the
// live store.  Then the drill: a second server starts on the copy, with the
// same personal-data key, on another port; every receipt acknowledged
// before the backup began is there, read as its own family (whose session
// is in the copy too) with its pseudonym; the copy passes integrity_check
// and `ruxue audit verify`.  Also: submissions went on while the copy was
// made; a backup killed half-way leaves the previous copy whole and the
// next run succeeds; bad arguments are refused with a message naming
// what is wrong.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';

import { familySignIn, masked, randomPhone, staffLogin, startServer } from './harness.mjs';
import { childIdOf, COUNTER, COUNTERS } from '../soak/soak-lib.mjs';

const RUXUE = process.env.RUXUE;
const FAMILIES = 10;
const CONNECTIONS = 60;
const WORKERS = 2;
const CHECK = new URL('../soak/check_store.py', import.meta.url).pathname;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Run ruxue with args; resolve {status, signal, stdout, stderr}; onSpawn(proc) to signal it.
function ruxue(args, onSpawn) {
  return new Promise((resolve, reject) => {
    const p = spawn(RUXUE, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('exit', (status, signal) => resolve({ status, signal, stdout, stderr }));
    if (onSpawn) onSpawn(p);
  });
}

// Every receipt in the logs: receipt -> {family, idem, pseudonym}
function readLogs(dir) {
  const out = new Map();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const [receipt, family, idem, , , pseudonym] = line.split(' ');
      out.set(receipt, { family: Number(family), idem, pseudonym });
    }
  }
  return out;
}

describe('ruxue backup and the restore drill', () => {
  let srv;
  let restored;
  const families = [];
  let logDir;
  let copy;
  let preBackup; // receipts acknowledged before the backup began
  let backupRun; // {status, stdout, stderr}
  let ackedDuring; // 201s that arrived while the backup ran
  let ackedTotal;
  const counters = new SharedArrayBuffer(8 * COUNTERS);
  const count = new BigInt64Array(counters);
  const acked = () => Number(Atomics.load(count, COUNTER.acked));

  before(async () => {
    srv = await startServer({ label: 'backup' });
    logDir = join(srv.dir, 'receipts');
    mkdirSync(logDir);
    copy = join(srv.dir, 'backups', 'copy.db');
    mkdirSync(join(srv.dir, 'backups'));
  });

  after(async () => {
    if (restored) await restored.cleanup();
    if (srv) await srv.cleanup();
  });

  it('takes a consistent copy while families submit', async (t) => {
    const staff = await staffLogin(srv);
    for (let i = 0; i < FAMILIES; i++) families.push(await familySignIn(srv, staff, randomPhone()));

    const lanes = Array.from({ length: CONNECTIONS }, (_, i) => ({
      family: i % FAMILIES, cookie: families[i % FAMILIES].cookie, csrf: families[i % FAMILIES].csrf,
    }));
    const workers = [];
    const ready = [];
    const done = [];
    for (let w = 0; w < WORKERS; w++) {
      const wk = new Worker(new URL('../soak/surge-worker.mjs', import.meta.url), {
        workerData: { lanes: lanes.filter((_, i) => i % WORKERS === w), log: join(logDir, `w${w}.log`), counters, worker: w },
      });
      workers.push(wk);
      ready.push(new Promise((res) => wk.once('message', res)));
      done.push(new Promise((res, rej) => {
        wk.on('message', (m) => m.type === 'done' && res(m));
        wk.on('error', rej);
      }));
    }
    await Promise.all(ready);
    for (const wk of workers) wk.postMessage({ type: 'go', base: srv.base, round: 1, pending: [] });
    const deadline = Date.now() + 120000;
    while (acked() < 300 && Date.now() < deadline) await sleep(10);
    assert.ok(acked() >= 300, `the surge acknowledged only ${acked()} in 120 s`);

    // the time the backup begins: everything logged by now was acknowledged before it
    preBackup = readLogs(logDir);
    const a0 = acked();
    // small steps with pauses, so the copy takes a while and the surge runs through it
    backupRun = await ruxue(['backup', '--db', srv.db, '--out', copy, '--step-pages', '8', '--pause-ms', '50']);
    ackedDuring = acked() - a0;
    await sleep(200); // and on after it
    for (const wk of workers) wk.postMessage('stop');
    const results = await Promise.all(done);
    await Promise.all(workers.map((wk) => wk.terminate()));
    ackedTotal = acked();
    for (const m of results) assert.deepEqual(m.unexpected, [], 'every answer of the surge is 201 or 503');

    assert.equal(backupRun.status, 0, `ruxue backup: ${backupRun.stdout}${backupRun.stderr}`);
    assert.match(backupRun.stdout, /^backup: \d+ pages of \d+ bytes \(\d+ bytes\) in [\d.]+ s, \d+ steps, 0 restarts$/m);
    assert.match(backupRun.stdout, /^backup: integrity_check ok, schema version \d+$/m);
    assert.match(backupRun.stdout, new RegExp(`^backup: written to ${copy.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    t.diagnostic(`${preBackup.size} acknowledged before the backup, ${ackedDuring} during it, ${ackedTotal} in all; ` +
      backupRun.stdout.split('\n')[0]);
    // online: the server went on acknowledging submissions while the copy was made
    assert.ok(ackedDuring > 0, 'no submission was acknowledged while the backup ran');
    // one self-contained private file
    assert.equal(statSync(copy).mode & 0o777, 0o600);
    for (const side of ['-wal', '-shm', '-journal', '.partial']) assert.ok(!existsSync(copy + side), `${copy}${side} left behind`);
  });

  it('the copy passes integrity_check and holds every receipt acknowledged before the backup', () => {
    const logFile = join(srv.dir, 'before.log');
    writeFileSync(logFile, [...preBackup].map(([r, v]) => `${r} ${v.family} ${v.idem} 201 1 ${v.pseudonym}\n`).join(''));
    const c = spawnSync('python3', [CHECK, copy, logFile, '--integrity'], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    const r = JSON.parse(c.stdout);
    assert.equal(r.integrity, 'ok');
    assert.equal(r.acknowledged, preBackup.size);
    assert.equal(r.lost, 0, 'receipts acknowledged before the backup are missing from the copy');
    assert.equal(r.mismatched, 0);
    assert.equal(r.dup_store, 0);
    // a snapshot of the moment the backup began: at least what was acknowledged
    // then, at most what was ever sent
    assert.ok(r.stored >= preBackup.size && r.stored <= Number(Atomics.load(count, COUNTER.sent)), c.stdout);
  });

  it('ruxue audit verify passes on the copy', () => {
    const v = spawnSync(RUXUE, ['audit', 'verify', '--db', copy], { encoding: 'utf8' });
    assert.equal(v.status, 0, `${v.stdout}${v.stderr}`);
    assert.match(v.stdout, /^audit: \d+ entries, chain intact, head [0-9a-f]{64}$/m);
  });

  it('restore drill: a second server on the copy, same key, shows every family its receipts', async (t) => {
    // the harness's own --db and --pii-key are overridden by the later ones (the last wins)
    restored = await startServer({ label: 'restored', extraArgs: ['--db', copy, '--pii-key', srv.key] });
    assert.notEqual(restored.port, srv.port);
    const h = await fetch(`${restored.base}/api/health`);
    assert.equal(h.status, 200);
    // the families' sessions are in the copy: the same cookies sign them in there
    const asFamily = (i) => {
      const f = families[i];
      return (path) => fetch(`${restored.base}${path}`, { headers: { Cookie: `rx_session=${f.cookie}` } });
    };
    let n = 0;
    const entries = [...preBackup];
    for (let k = 0; k < entries.length; k += 50) {
      await Promise.all(entries.slice(k, k + 50).map(async ([receipt, v]) => {
        const r = await asFamily(v.family)(`/api/applications/${receipt}`);
        const text = await r.text();
        assert.equal(r.status, 200, `${receipt} on the restored server: ${r.status} ${text}`);
        const j = JSON.parse(text);
        assert.equal(j.receipt, receipt);
        assert.equal(j.pseudonym, v.pseudonym);
        assert.equal(j.status, 'submitted');
        assert.match(j.id_number, /^\*{14}[\dX]{4}$/); // decrypted and masked: the same key reads it
        n++;
      }));
    }
    // and the whole list of each family holds them
    for (let i = 0; i < FAMILIES; i++) {
      const r = await asFamily(i)('/api/applications');
      const j = await r.json();
      const got = new Set(j.applications.map((a) => a.receipt));
      for (const [receipt, v] of preBackup) if (v.family === i) assert.ok(got.has(receipt), `family ${i} lacks ${receipt}`);
    }
    t.diagnostic(`${n} receipts acknowledged before the backup read back as their families on the restored server`);
  });

  it('the restored ID numbers are the children sent (the same personal-data key)', async () => {
    // the child of request soak-N is childIdOf(N): its masked form is what the restored server shows
    const [receipt, v] = [...preBackup][0];
    const r = await fetch(`${restored.base}/api/applications/${receipt}`, {
      headers: { Cookie: `rx_session=${families[v.family].cookie}` },
    });
    const j = await r.json();
    assert.equal(j.id_number, masked(childIdOf(Number(v.idem.slice('soak-'.length)))));
  });

  it('a backup killed half-way leaves the previous copy whole; the next run replaces it', async () => {
    const old = readFileSync(copy);
    // slow on purpose: one page a step, 50 ms apart, then SIGKILL once it has begun
    const run = await ruxue(['backup', '--db', srv.db, '--out', copy, '--step-pages', '1', '--pause-ms', '50'], (p) => {
      const poll = setInterval(() => {
        if (existsSync(`${copy}.partial`)) {
          clearInterval(poll);
          setTimeout(() => p.kill('SIGKILL'), 150);
        }
      }, 5);
    });
    assert.equal(run.signal, 'SIGKILL', `the backup ended before the kill: ${run.stdout}`);
    assert.ok(existsSync(`${copy}.partial`), 'the interrupted copy is left as .partial');
    assert.ok(readFileSync(copy).equals(old), 'the previous copy changed under an interrupted backup');
    const again = await ruxue(['backup', '--db', srv.db, '--out', copy]);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stdout, /integrity_check ok/);
    assert.ok(!existsSync(`${copy}.partial`));
    const c = spawnSync('python3', [CHECK, copy, join(srv.dir, 'before.log')], { encoding: 'utf8' });
    const r = JSON.parse(c.stdout);
    assert.equal(r.lost, 0);
    // the surge has stopped: the new copy is the store as it is now, every 201 of the surge
    assert.equal(r.stored, ackedTotal, 'the new copy holds every application acknowledged');
  });

  it('refuses bad arguments, naming what is wrong, and never overwrites the store', async () => {
    const help = await ruxue(['backup', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /usage: ruxue backup --db STORE --out FILE/);
    const none = await ruxue(['backup', '--db', srv.db]);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /expected --db STORE and --out FILE/);
    const bad = await ruxue(['backup', '--db', srv.db, '--out', copy, '--pause-ms', 'soon']);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--pause-ms: expected 0\.\.1000, found 'soon'/);
    const missing = await ruxue(['backup', '--db', join(srv.dir, 'nope.db'), '--out', copy]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /nope\.db.*cannot read the store: No such file/);
    const size = statSync(srv.db).size;
    const self = await ruxue(['backup', '--db', srv.db, '--out', srv.db]);
    assert.equal(self.status, 1);
    assert.match(self.stderr, /the copy would overwrite the store itself/);
    assert.equal(statSync(srv.db).size, size);
    const notStore = join(srv.dir, 'plain.db');
    writeFileSync(notStore, '');
    const plain = await ruxue(['backup', '--db', notStore, '--out', join(srv.dir, 'x.db')]);
    assert.equal(plain.status, 1);
    assert.match(plain.stderr, /expected a ruxue store \(a table meta\), found none/);
    assert.ok(!existsSync(join(srv.dir, 'x.db')) && !existsSync(join(srv.dir, 'x.db.partial')));
    const noDir = await ruxue(['backup', '--db', srv.db, '--out', join(srv.dir, 'no', 'such', 'dir', 'c.db')]);
    assert.equal(noDir.status, 1);
    assert.match(noDir.stderr, /c\.db\.partial.*cannot create the copy: No such file or directory/);
  });
});
