// sessions.test.mjs - the session and family-code rules of issue #7 item
// 6, each proven against the real server (docs/api.md, "Sign-in"):
//
//   sessions  staff sessions end after 30 min idle or 12 h, family ones
//             after their own limits; 256-bit tokens stored hashed;
//             __Host- cookies with Secure behind TLS (--secure-cookies);
//             what has expired is deleted from the store
//   family    6-digit codes, valid 10 minutes, single use, dead after 5
//             wrong tries; at most 5 codes an hour and 10 a day per number,
//             counted in the store (so across restarts); loose per-address
//             limits
//   floods    the 61st staff sign-in and the 301st code request of a minute
//             from one address get 429, audited once per minute
//
// The time limits are shortened with serve's hidden flags (--session-idle,
// --session-max, --family-idle, --code-ttl, --code-hour-window) so that
// nothing sleeps for minutes.  The staff account rules are in
// accounts.test.mjs.
//
//   RUXUE=build/ruxue node --test tests/e2e/sessions.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  assertError,
  awayFromMinuteEdge,
  Client,
  codeFromOutbox,
  makeStaff,
  randomPhone,
  staffLogin,
  staffSignIn,
  startServer,
  storeBytes,
} from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('sessions: idle and absolute limits, tokens, cookies', () => {
  let srv;
  const secrets = {}; // an account per test, so that none waits for a new TOTP step
  const signIn = async (name) => {
    const c = new Client(srv);
    const r = await staffSignIn(c, name, 'tidal-compass-52', secrets[name]);
    assert.equal(r.status, 200, r.text);
    return c;
  };
  before(async () => {
    srv = await startServer({
      label: 'accounts-sessions',
      extraArgs: ['--session-idle', '3', '--session-max', '7', '--family-idle', '3', '--family-max', '7'],
    });
    const city = await staffLogin(srv);
    for (const name of ['idle.a', 'busy.b', 'cookie.c'])
      secrets[name] = await makeStaff(city, name, 'tidal-compass-52');
  });
  after(async () => {
    if (srv) await srv.cleanup();
  });

  it('a staff session ends after the idle limit without a request', async () => {
    const s = await signIn('idle.a');
    assert.equal((await s.request('GET', '/api/me')).status, 200);
    await sleep(2000);
    assert.equal((await s.request('GET', '/api/me')).status, 200, 'a request within the limit keeps it');
    await sleep(2000);
    assert.equal((await s.request('GET', '/api/me')).status, 200, 'counted from the last request');
    await sleep(4200);
    assertError(await s.request('GET', '/api/me'), 401, 'not_signed_in');
  });

  it('a busy session still ends at the absolute limit; a family session too', async () => {
    const s = await signIn('busy.b');
    const f = new Client(srv);
    const phone = randomPhone();
    assert.equal((await f.request('POST', '/api/family/code', { json: { phone } })).status, 202);
    const code = await codeFromOutbox(s, phone);
    assert.equal((await f.request('POST', '/api/family/login', { json: { phone, code } })).status, 200);
    const t0 = Date.now();
    while (Date.now() - t0 < 6000) {
      assert.equal((await s.request('GET', '/api/me')).status, 200);
      assert.equal((await f.request('GET', '/api/me')).status, 200);
      await sleep(1000);
    }
    await sleep(Math.max(0, 7600 - (Date.now() - t0)));
    assertError(await s.request('GET', '/api/me'), 401, 'not_signed_in');
    assertError(await f.request('GET', '/api/me'), 401, 'not_signed_in');
  });

  it('the cookie: 256-bit token, HttpOnly, SameSite=Strict, Path=/, Max-Age the absolute limit, no Secure on plain http; stored hashed', async () => {
    const s = await signIn('cookie.c');
    assert.equal(s.cookieName, 'rx_session');
    assert.match(s.cookie, /^[0-9a-f]{64}$/, '32 random bytes');
    const again = new Client(srv);
    const r = await staffSignIn(again, 'cookie.c', 'tidal-compass-52', secrets['cookie.c']);
    const sc = r.headers.get('set-cookie');
    assert.match(sc, /^rx_session=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=7$/);
    assert.notEqual(again.cookie, s.cookie);
    const raw = storeBytes(srv);
    for (const tok of [s.cookie, again.cookie]) {
      assert.equal(raw.indexOf(Buffer.from(tok)), -1, 'the token is not in the store as text');
      assert.equal(raw.indexOf(Buffer.from(tok, 'hex')), -1, 'nor as bytes');
    }
  });

  it('behind TLS (--secure-cookies) the cookie is __Host-rx_session with Secure', async () => {
    const tls = await startServer({ label: 'accounts-tls', extraArgs: ['--secure-cookies'] });
    try {
      const s = await staffLogin(tls);
      assert.equal(s.cookieName, '__Host-rx_session');
      const c = new Client(tls);
      const r = await staffSignIn(c, 'demo', tls.password, tls.totp);
      const sc = r.headers.get('set-cookie');
      assert.match(sc, /^__Host-rx_session=[0-9a-f]{64}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200; Secure$/);
      assert.ok(!/Domain=/i.test(sc), 'a __Host- cookie has no Domain');
      assert.equal((await c.request('GET', '/api/me')).status, 200);
      // the plain name is not taken there
      assertError(await c.request('GET', '/api/me', { headers: { Cookie: `rx_session=${c.cookie}` } }), 401, 'not_signed_in');
      const out = await c.request('POST', '/api/logout');
      assert.match(out.headers.get('set-cookie'), /^__Host-rx_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0; Secure$/);
    } finally {
      await tls.cleanup();
    }
  });
});

describe('family codes: lifetime, single use, tries, limits per number and address', () => {
  let srv, staff;
  before(async () => {
    srv = await startServer({ label: 'accounts-family', extraArgs: ['--code-ttl', '2', '--code-hour-window', '3'] });
    staff = await staffLogin(srv);
  });
  after(async () => {
    if (srv) await srv.cleanup();
  });

  it('a code expires (--code-ttl 2 here; 10 minutes by default) and then says so', async () => {
    const c = new Client(srv);
    const phone = randomPhone();
    const sent = await c.request('POST', '/api/family/code', { json: { phone } });
    assert.equal(sent.status, 202, sent.text);
    assert.equal(sent.json.expires_in, 2);
    const code = await codeFromOutbox(staff, phone);
    await sleep(2600);
    assertError(await c.request('POST', '/api/family/login', { json: { phone, code } }), 401, 'code_expired', 'code');
  });

  it('a code is single use and dies after 5 wrong tries', async () => {
    const c = new Client(srv);
    const phone = randomPhone();
    assert.equal((await c.request('POST', '/api/family/code', { json: { phone } })).status, 202);
    const code = await codeFromOutbox(staff, phone);
    const wrong = String((Number(code) + 1) % 1e6).padStart(6, '0');
    for (let i = 0; i < 4; i++) assertError(await c.request('POST', '/api/family/login', { json: { phone, code: wrong } }), 401, 'bad_code');
    assertError(await c.request('POST', '/api/family/login', { json: { phone, code: wrong } }), 401, 'code_dead');
    assertError(await c.request('POST', '/api/family/login', { json: { phone, code } }), 401, 'code_expired');
    // a new code works once
    assert.equal((await c.request('POST', '/api/family/code', { json: { phone } })).status, 202);
    const code2 = await codeFromOutbox(staff, phone);
    assert.equal((await c.request('POST', '/api/family/login', { json: { phone, code: code2 } })).status, 200);
    assertError(await new Client(srv).request('POST', '/api/family/login', { json: { phone, code: code2 } }), 401, 'code_expired');
  });

  it('codes are 6 digits from the whole range', async () => {
    const seen = new Set();
    const c = new Client(srv);
    for (let i = 0; i < 12; i++) {
      const phone = randomPhone();
      assert.equal((await c.request('POST', '/api/family/code', { json: { phone } })).status, 202);
      const code = await codeFromOutbox(staff, phone);
      assert.match(code, /^\d{6}$/);
      seen.add(code);
    }
    assert.ok(seen.size >= 11, 'codes do not repeat');
  });

  it('per number: 5 codes an hour and 10 a day, still counted after a restart', async () => {
    const c = new Client(srv);
    const phone = randomPhone();
    for (let i = 0; i < 5; i++) assert.equal((await c.request('POST', '/api/family/code', { json: { phone } })).status, 202);
    const sixth = await c.request('POST', '/api/family/code', { json: { phone } });
    assertError(sixth, 429, 'too_many_codes', 'phone');
    const ra = Number(sixth.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 3, `Retry-After ${ra} (the "hour" is 3 s here)`);
    await srv.restart();
    assertError(await c.request('POST', '/api/family/code', { json: { phone } }), 429, 'too_many_codes', 'phone');
    // the next "hour": 5 more make 10 in the day
    await sleep(3200);
    for (let i = 0; i < 5; i++) {
      const r = await c.request('POST', '/api/family/code', { json: { phone } });
      assert.equal(r.status, 202, `code ${6 + i}: ${r.text}`);
    }
    await sleep(3200);
    const eleventh = await c.request('POST', '/api/family/code', { json: { phone } });
    assertError(eleventh, 429, 'too_many_codes', 'phone');
    assert.ok(Number(eleventh.headers.get('retry-after')) > 86000, 'the daily limit waits for the day');
    await srv.restart();
    assertError(await c.request('POST', '/api/family/code', { json: { phone } }), 429, 'too_many_codes', 'phone');
    // a refused request counts nothing: another number is not affected either
    assert.equal((await c.request('POST', '/api/family/code', { json: { phone: randomPhone() } })).status, 202);
  });

  it('per address the limit is loose: 60 families behind one address get their codes in a minute', async () => {
    const c = new Client(srv);
    for (let i = 0; i < 60; i++) {
      const r = await c.request('POST', '/api/family/code', { json: { phone: randomPhone() } });
      assert.equal(r.status, 202, `family ${i + 1}: ${r.text}`);
    }
  });
});

describe('expired sign-in data is deleted from the store', () => {
  let srv;
  before(async () => {
    srv = await startServer({
      label: 'accounts-prune',
      extraArgs: ['--family-idle', '2', '--code-ttl', '2', '--prune-every', '1'],
    });
  });
  after(async () => {
    if (srv) await srv.cleanup();
  });

  it('a family session past its idle limit and a code never used are deleted within the prune interval; a live staff session stays', async () => {
    const staff = await staffLogin(srv);
    const f = new Client(srv);
    const phone = randomPhone();
    assert.equal((await f.request('POST', '/api/family/code', { json: { phone } })).status, 202);
    const code = await codeFromOutbox(staff, phone);
    assert.equal((await f.request('POST', '/api/family/login', { json: { phone, code } })).status, 200);
    // a code sent and never used
    assert.equal((await new Client(srv).request('POST', '/api/family/code', { json: { phone: randomPhone() } })).status, 202);
    const deleted = () => [...srv.errors().matchAll(/deleted what had expired: (\d+) sessions, (\d+) codes, (\d+) limits/g)];
    const t0 = Date.now();
    let sessions = 0;
    let codes = 0;
    while (Date.now() - t0 < 10000 && (sessions < 1 || codes < 1)) {
      await sleep(500);
      sessions = deleted().reduce((a, m) => a + Number(m[1]), 0);
      codes = deleted().reduce((a, m) => a + Number(m[2]), 0);
    }
    assert.equal(sessions, 1, `the family's session, and only it: ${srv.errors()}`);
    assert.equal(codes, 1, 'the unused code');
    assertError(await f.request('GET', '/api/me'), 401, 'not_signed_in');
    assert.equal((await staff.request('GET', '/api/me')).status, 200, 'the staff session (30 min idle) is kept');
  });
});

describe('a flood of sign-ins from one address is refused and leaves one audit entry a minute', () => {
  let srv;
  before(async () => {
    srv = await startServer({ label: 'accounts-flood' });
  });
  after(async () => {
    if (srv) await srv.cleanup();
  });

  it('the 61st staff sign-in and the 301st code request of a minute get 429; each limit is audited once, with the address', async () => {
    await awayFromMinuteEdge(30); // the limits count in fixed minutes
    const city = await staffLogin(srv); // signed in before the flood
    const c = new Client(srv);
    const statuses = [];
    for (let i = 0; i < 62; i++) {
      const r = await c.request('POST', '/api/staff/login', {
        json: { username: `nobody-${i}`, password: 'not-the-password-1', code: '000000' },
      });
      statuses.push(r.status);
    }
    // the demo login above was the first of the minute from this address
    assert.deepEqual(statuses.slice(0, 59), Array(59).fill(401));
    assert.deepEqual(statuses.slice(59), [429, 429, 429]);
    const codes = [];
    for (let i = 0; i < 302; i++) {
      const r = await c.request('POST', '/api/family/code', { json: { phone: randomPhone() } });
      codes.push(r.status);
    }
    assert.equal(codes.filter((s) => s === 202).length, 300);
    assert.deepEqual(codes.slice(300), [429, 429]);
    const audit = await city.request('GET', '/api/console/audit?limit=1000');
    assert.equal(audit.status, 200, audit.text);
    const entries = audit.json.entries ?? audit.json;
    const limited = entries.filter((e) => e.outcome === 'refused:rate_limited');
    assert.deepEqual(limited.map((e) => e.action).sort(), ['family.code', 'staff.login']);
    for (const e of limited) {
      assert.equal(e.actor, 'system:rate-limit');
      assert.match(JSON.stringify(e), /127\.0\.0\.1/, 'the address is kept');
    }
  });
});
