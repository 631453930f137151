// harness.mjs - start the real `ruxue serve` for end-to-end tests, and a
// small cookie-aware HTTP client for its JSON API (docs/api.md).
//
// Node's own pieces only (node:child_process, global fetch), so the tests
// run on Node 18 and 20 without npm.  The binary is taken from $RUXUE.
//
//   const srv = await startServer();          // fresh temp db and key
//   const staff = await staffLogin(srv);      // demo / the random password / a TOTP code
//   const fam = await familySignIn(srv, staff, randomPhone());
//   const r = await fam.request('POST', '/api/applications',
//                               { json: {...}, headers: { 'Idempotency-Key': k } });
//   await srv.kill(); await srv.restart();    // same db and key, new port
//   await srv.stop();                         // SIGTERM, waits
//   await srv.cleanup();                      // stops; removes the temp dir
//
// Environment: RUXUE the binary (required); RUXUE_E2E_VERBOSE=1 copies the
// servers' stderr; RUXUE_E2E_KEEP=1 keeps the temp dirs; RUXUE_E2E_STACKS=1
// shows the server's threads when a SIGTERM stop takes over a second;
// RUXUE_E2E_STOP_MS the SIGTERM wait before SIGKILL (default 15000).

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHmac, randomBytes, randomInt, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';

const READY = /listening on http:\/\/([0-9.]+):(\d+)\//;
const START_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = Number(process.env.RUXUE_E2E_STOP_MS || 15000);

// Servers still running when node exits (a test that threw) are killed,
// also when the test process itself is ended by a signal (the runner
// cancelling it, a closed pipe, ^C), which would otherwise leave them
// running with nobody to stop them.
const running = new Set();
function killAll() {
  for (const p of running) {
    try {
      p.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }
}
process.on('exit', killAll);
if (isMainThread) {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.once(sig, () => {
      killAll();
      process.kill(process.pid, sig); // the default action, now that the handler is gone
    });
  }
}

const SETPRIV = process.platform === 'linux' && existsSync('/usr/bin/setpriv') ? '/usr/bin/setpriv' : null;

function binary() {
  const b = process.env.RUXUE;
  if (!b) throw new Error('set RUXUE to the ruxue binary, e.g. RUXUE=build/ruxue');
  return b;
}

// Spawn once; resolve with {proc, base, port, exited} when it prints its
// "listening on" line, reject when it exits or says nothing in time.
function spawnServer(args, label) {
  return new Promise((resolve, reject) => {
    // setpriv (util-linux) execs the server with PR_SET_PDEATHSIG: it is
    // SIGKILLed if this process dies without stopping it (a test process
    // ended by EPIPE exits without its 'exit' handlers).  The pid stays
    // the server's own.
    const argv = ['serve', ...args];
    const proc = SETPRIV
      ? spawn(SETPRIV, ['--pdeathsig', 'KILL', binary(), ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(binary(), argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let out = '';
    let err = '';
    let done = false;
    const exited = new Promise((res) => {
      proc.on('exit', (code, signal) => {
        running.delete(proc);
        res({ code, signal });
      });
    });
    const fail = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try {
        proc.kill('SIGKILL');
      } catch {
        /* gone */
      }
      reject(new Error(`${label}: ${why}\nstdout: ${out}\nstderr: ${err}`));
    };
    const timer = setTimeout(() => fail(`no "listening on" line in ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    proc.on('error', (e) => fail(`cannot start ${binary()}: ${e.message}`));
    proc.on('exit', (code, signal) => fail(`exited (code ${code}, signal ${signal}) before listening`));
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      err += d;
      if (process.env.RUXUE_E2E_VERBOSE) process.stderr.write(`[${label} stderr] ${d}`);
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => {
      out += d;
      const m = READY.exec(out);
      if (m && !done) {
        done = true;
        clearTimeout(timer);
        const port = Number(m[2]);
        resolve({ proc, port, base: `http://127.0.0.1:${port}`, exited, output: () => out, errors: () => err });
      }
    });
  });
}

// Wait for the process to end, SIGKILL after a timeout; returns {code, signal}.
async function waitExit(inst, timeoutMs) {
  let timer;
  const late = new Promise((res) => {
    timer = setTimeout(() => res(null), timeoutMs);
  });
  const r = await Promise.race([inst.exited, late]);
  clearTimeout(timer);
  if (r) return r;
  inst.proc.kill('SIGKILL');
  const k = await inst.exited;
  return { ...k, timedOut: true };
}

/**
 * Start `ruxue serve` on 127.0.0.1, any free port, with a fresh temp dir
 * holding the store and the personal-data key, in demo mode with a random
 * demo password and TOTP secret.  Returns
 *   { base, port, password, totp, dir, db, key, stop(), kill(), restart(), exits }
 * base changes on restart (a new port); clients read it at every request.
 * stop() sends SIGTERM and waits (SIGKILL after 15 s or {timeoutMs}; the
 * result {code, signal, ms, timedOut} tells),
 * kill() sends SIGKILL and waits, restart() starts again on the same db and
 * key.  cleanup() stops and removes the temp dir.
 */
export async function startServer({ extraArgs = [], label = 'ruxue' } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ruxue-e2e-'));
  const db = join(dir, 'store.db');
  const key = join(dir, 'pii.key');
  const password = randomBytes(12).toString('base64url');
  const totp = base32(randomBytes(20)); // the demo account's TOTP secret
  const args = ['--db', db, '--pii-key', key, '--port', '0', '--bind', '127.0.0.1',
    '--demo', '--demo-password', password, '--demo-totp', totp, ...extraArgs];
  let inst = null;
  let starts = 0;
  const srv = {
    dir,
    db,
    key,
    password,
    totp,
    exits: [], // {how, code, signal} of every stop/kill, for diagnostics
    get base() {
      if (!inst) throw new Error('the server is not running');
      return inst.base;
    },
    get port() {
      return inst ? inst.port : null;
    },
    get pid() {
      return inst ? inst.proc.pid : null;
    },
    get running() {
      return inst !== null;
    },
    output() {
      return inst ? inst.output() : '';
    },
    errors() {
      return inst ? inst.errors() : '';
    },
    async start() {
      if (inst) throw new Error('already running');
      starts++;
      inst = await spawnServer(args, `${label}#${starts}`);
      return srv;
    },
    async stop({ timeoutMs = STOP_TIMEOUT_MS } = {}) {
      if (!inst) return null;
      const i = inst;
      const t0 = Date.now();
      i.proc.kill('SIGTERM');
      let slow;
      if (process.env.RUXUE_E2E_STACKS) {
        // a stop that takes over a second: show where the server's threads are
        slow = setTimeout(() => {
          const pid = i.proc.pid;
          const r = spawnSync('sh', ['-c', `for t in /proc/${pid}/task/*; do echo "$t $(cut -d' ' -f3 $t/stat) wchan=$(cat $t/wchan) syscall=$(cut -d' ' -f1 $t/syscall 2>/dev/null)"; cat $t/stack 2>/dev/null | head -8; done; gdb -p ${pid} -batch -ex 'thread apply all bt' 2>&1 | grep -E '^Thread|^#' | head -80`], { encoding: 'utf8' });
          process.stderr.write(`slow SIGTERM stop of ${pid}:\n${r.stdout}${r.stderr}\n`);
        }, 1000);
      }
      const r = { ...(await waitExit(i, timeoutMs)), ms: Date.now() - t0 };
      clearTimeout(slow);
      inst = null;
      srv.exits.push({ how: 'SIGTERM', ...r, stdout: i.output(), stderr: i.errors() });
      return r;
    },
    // Send a signal now, synchronously (to kill at an exact point between
    // two responses); kill() or stop() then waits for the exit.
    signal(sig) {
      if (inst) inst.proc.kill(sig);
    },
    async kill() {
      if (!inst) return null;
      const i = inst;
      i.proc.kill('SIGKILL');
      const r = await i.exited;
      inst = null;
      srv.exits.push({ how: 'SIGKILL', ...r });
      return r;
    },
    async restart() {
      if (inst) await srv.stop();
      return srv.start();
    },
    async cleanup() {
      try {
        await srv.stop();
      } finally {
        if (!process.env.RUXUE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
  try {
    await srv.start();
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return srv;
}

// ------------------------------------------------------------------ client

/**
 * A cookie-aware client of one server (its base is read at every request,
 * so it keeps working across restarts): it keeps `rx_session` from
 * Set-Cookie and sends X-CSRF-Token when it knows one (from a login
 * response's `csrf`).  Every response text is passed to `onBody` (tests use
 * it to check that no answer ever holds a child's full ID number).
 */
export class Client {
  constructor(server, { onBody = null, name = '' } = {}) {
    this.server = server;
    this.cookie = null; // the rx_session token
    this.cookieName = 'rx_session'; // __Host-rx_session behind TLS (--secure-cookies)
    this.csrf = null;
    this.onBody = onBody;
    this.name = name;
  }

  /**
   * request(method, path, opts) -> {status, headers, text, json}
   *   opts.json     a value sent as JSON (Content-Type application/json)
   *   opts.body     raw text sent as is (for malformed bodies)
   *   opts.headers  extra headers (they win over the automatic ones)
   *   opts.csrf     false: omit X-CSRF-Token; a string: send that instead
   *   opts.cookie   false: send no cookie; a string: send that token instead
   *   opts.timeout  ms (default 30000)
   *   opts.signal   an AbortSignal instead of the timeout
   * Network errors (a killed server) reject, as fetch does.
   */
  async request(method, path, opts = {}) {
    const headers = {};
    let body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    } else if (opts.body !== undefined) {
      body = opts.body;
      headers['Content-Type'] = 'application/json';
    }
    const token = opts.cookie === false ? null : typeof opts.cookie === 'string' ? opts.cookie : this.cookie;
    if (token) headers.Cookie = `${this.cookieName}=${token}`;
    const csrf = opts.csrf === false ? null : typeof opts.csrf === 'string' ? opts.csrf : this.csrf;
    if (csrf && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
    Object.assign(headers, opts.headers || {});
    const res = await fetch(this.server.base + path, {
      method,
      headers,
      body,
      redirect: 'manual',
      signal: opts.signal ?? AbortSignal.timeout(opts.timeout ?? 30000),
    });
    const text = await res.text();
    if (this.onBody) this.onBody(text, { method, path, status: res.status });
    this.#takeCookie(res.headers);
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (json && typeof json === 'object' && typeof json.csrf === 'string' && res.status === 200) {
      this.csrf = json.csrf;
    }
    return { status: res.status, headers: res.headers, text, json };
  }

  #takeCookie(h) {
    const all = typeof h.getSetCookie === 'function' ? h.getSetCookie() : splitSetCookie(h.get('set-cookie'));
    for (const c of all) {
      const m = /^\s*((?:__Host-)?rx_session)=([^;]*)(.*)$/.exec(c);
      if (!m) continue;
      const expired = /;\s*max-age=0\b/i.test(m[3]) || m[2] === '';
      this.cookieName = m[1];
      this.cookie = expired ? null : m[2];
      if (expired) this.csrf = null;
    }
  }
}

// Set-Cookie values joined by ", " (no getSetCookie on older Nodes): split
// where a new "name=" starts, not inside an Expires date.
function splitSetCookie(v) {
  if (!v) return [];
  return v.split(/,\s*(?=[A-Za-z0-9_!#$%&'*+.^`|~-]+=)/);
}

// ------------------------------------------------------------------ helpers

// ------------------------------------------------------------------- TOTP

const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding. */
export function base32(buf) {
  let bits = 0;
  let v = 0;
  let out = '';
  for (const b of buf) {
    v = ((v << 8) | b) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += B32[(v >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(v << (5 - bits)) & 31];
  return out;
}

function unbase32(s) {
  const out = [];
  let bits = 0;
  let v = 0;
  for (const ch of s.replace(/[=\s]/g, '').toUpperCase()) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${s}`);
    v = ((v << 5) | i) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((v >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The RFC 6238 code (SHA-1, 30 s, 6 digits) of step `step` for a base32 secret. */
export function totpAt(secret, step) {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac('sha1', unbase32(secret)).update(msg).digest();
  const o = h[19] & 15;
  const n = ((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
  return String(n % 1e6).padStart(6, '0');
}

// The last step used per secret: the server takes a step once, so a second
// sign-in soon after takes the next step (one ahead is accepted), then waits.
const lastStep = new Map();

/** A code of a step the server has not taken yet for this secret (waits for one when it must). */
export async function freshTotp(secret, take = true) {
  for (;;) {
    const t = Date.now() / 1000;
    const now = Math.floor(t / 30);
    const last = lastStep.get(secret) ?? -1;
    // the step before is used only early in a step (not near its edge of the skew)
    const step = Math.max(t % 30 < 20 ? now - 1 : now, last + 1);
    if (step <= now + 1) {
      if (take) lastStep.set(secret, step);
      return totpAt(secret, step);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * The code freshTotp would give now, without taking its step: for a request
 * the server refuses before it looks at the code (a wrong password), which
 * must not make the next sign-in wait for a new step.
 */
export function peekTotp(secret) {
  return freshTotp(secret, false);
}

/** Note that a code of this step was used outside freshTotp (a test sending its own). */
export function usedTotpStep(secret, step) {
  lastStep.set(secret, Math.max(lastStep.get(secret) ?? -1, step));
}

/** Assert an error answer: status and error code (and the field, when given). */
export function assertError(r, status, code, field = undefined) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.equal(r.json?.error?.code, code, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
}

/** The raw bytes of a server's store: the database file and its WAL. */
export function storeBytes(srv) {
  const parts = [readFileSync(srv.db)];
  if (existsSync(`${srv.db}-wal`)) parts.push(readFileSync(`${srv.db}-wal`));
  return Buffer.concat(parts);
}

/** A new staff account made by a signed-in staff client: returns its TOTP secret. */
export async function makeStaff(staff, username, password, role = 'district') {
  const r = await staff.request('POST', '/api/staff', { json: { username, password, role } });
  assert.equal(r.status, 201, r.text);
  return r.json.totp.secret;
}

/** Sign c in as a staff account (a fresh TOTP code); returns the response. */
export async function staffSignIn(c, username, password, secret) {
  return c.request('POST', '/api/staff/login', {
    json: { username, password, code: await freshTotp(secret) },
  });
}

/** Sign in as the demo city staff account; asserts nothing, throws on failure. */
export async function staffLogin(server, opts = {}) {
  const c = new Client(server, opts);
  const r = await staffSignIn(c, 'demo', server.password, server.totp);
  if (r.status !== 200) throw new Error(`staff login: ${r.status} ${r.text}`);
  return c;
}

/** A random mainland mobile number (11 digits, 13-19 first). */
export function randomPhone() {
  return `1${randomInt(3, 10)}${String(randomInt(0, 1e9)).padStart(9, '0')}`;
}

/**
 * The newest code sent to phone, read from the demo outbox as staff.  The
 * outbox is the newest 50 messages, newest first; each is read loosely (an
 * object with the phone and a text, or a plain string) so the test does not
 * depend on its exact shape.
 */
export async function codeFromOutbox(staff, phone) {
  const r = await staff.request('GET', '/api/demo/outbox');
  if (r.status !== 200) throw new Error(`outbox: ${r.status} ${r.text}`);
  const list = Array.isArray(r.json) ? r.json : r.json && Array.isArray(r.json.messages) ? r.json.messages : null;
  if (!list) throw new Error(`outbox: expected a JSON array, found ${r.text.slice(0, 200)}`);
  for (const m of list) {
    const strings = typeof m === 'string' ? [m] : Object.values(m || {}).filter((v) => typeof v === 'string');
    const forPhone = typeof m === 'string' ? m.includes(phone) : strings.includes(phone);
    if (!forPhone) continue;
    for (const s of strings) {
      const c = /验证码\s*(\d{6})/.exec(s) || /\b(\d{6})\b/.exec(s.replace(phone, ''));
      if (c) return c[1];
    }
  }
  return null;
}

/**
 * Sign a family in: POST /api/family/code, the code from the outbox (as
 * staff), POST /api/family/login.  Returns the signed-in Client.
 */
export async function familySignIn(server, staff, phone = randomPhone(), opts = {}) {
  const c = new Client(server, opts);
  const r1 = await c.request('POST', '/api/family/code', { json: { phone } });
  if (r1.status !== 202) throw new Error(`family code for ${phone}: ${r1.status} ${r1.text}`);
  const code = await codeFromOutbox(staff, phone);
  if (!code) throw new Error(`no code for ${phone} in the outbox`);
  const r2 = await c.request('POST', '/api/family/login', { json: { phone, code } });
  if (r2.status !== 200) throw new Error(`family login for ${phone}: ${r2.status} ${r2.text}`);
  c.phone = phone;
  return c;
}

// --------------------------------------------------------------- ID numbers

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK = '10X98765432';

/** GB 11643 check character of 17 digits. */
export function checkChar(d17) {
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(d17[i]) * WEIGHTS[i];
  return CHECK[s % 11];
}

export const REGIONS = ['110105', '110108', '310104', '310115', '440305', '440106', '510107', '330106', '320102', '420106'];
const issued = new Set();

/** A valid, never before returned (in this thread) child's ID number, born
 * 2020-2021; region (6 digits) fixed when given (threads that must not
 * collide use different regions). */
export function randomChildId({ region = null } = {}) {
  for (;;) {
    const year = 2020 + randomInt(0, 2);
    const month = 1 + randomInt(0, 12);
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
    const day = 1 + randomInt(0, days);
    const seq = String(randomInt(0, 1000)).padStart(3, '0');
    const d17 = (region ?? REGIONS[randomInt(0, REGIONS.length)]) + String(year) +
      String(month).padStart(2, '0') + String(day).padStart(2, '0') + seq;
    const id = d17 + checkChar(d17);
    if (!issued.has(id)) {
      issued.add(id);
      return id;
    }
  }
}

/** The same number with a wrong check character. */
export function wrongCheckId(id) {
  const good = id[17];
  const bad = CHECK.split('').find((c) => c !== good);
  return id.slice(0, 17) + bad;
}

/** What the server should show of a number: 14 stars, the last 4. */
export function masked(id) {
  return '*'.repeat(14) + id.slice(14);
}

/** A fresh Idempotency-Key (8-64 of [A-Za-z0-9_-]). */
export function idemKey() {
  return `e2e-${randomUUID()}`;
}

/** Wait until at least `margin` seconds remain in the current wall-clock
 * minute: the server's rate limits count in fixed minutes (time / 60). */
export async function awayFromMinuteEdge(margin = 5) {
  const s = (Date.now() / 1000) % 60;
  if (60 - s < margin) await new Promise((r) => setTimeout(r, (60 - s + 0.2) * 1000));
}
