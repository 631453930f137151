// accounts.test.mjs - the account rules of issue #7 item 6, each proven
// against the real server (docs/api.md, "Sign-in"):
//
//   staff   passwords of 12-128 characters, not common, without the
//           username; a TOTP second factor for every account (secret shown
//           once at creation, sealed in the store); a code is good once;
//           5 failures in 15 minutes lock the account for 15 minutes
//           (423, Retry-After, audited; a city administrator can unlock);
//           sessions end after 30 min idle or 12 h; a password change
//           ends every session of the account
//   family  6-digit codes, valid 10 minutes, single use, dead after 5
//           wrong tries; at most 5 codes an hour and 10 a day per number,
//           counted in the store (so across restarts); loose per-address
//           limits
//   both    256-bit session tokens stored hashed; __Host- cookies with
//           Secure behind TLS (--secure-cookies)
//
// The time limits are shortened with serve's hidden flags (--session-idle,
// --session-max, --family-idle, --code-ttl, --lock-seconds,
// --code-hour-window) so that nothing sleeps for minutes.
//
//   RUXUE=build/ruxue node --test tests/e2e/accounts.test.mjs

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  awayFromMinuteEdge,
  Client,
  codeFromOutbox,
  freshTotp,
  randomPhone,
  staffLogin,
  staffSignIn,
  startServer,
  totpAt,
  usedTotpStep,
} from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const step = () => Math.floor(Date.now() / 1000 / 30);
// Wait for the start of a TOTP step, so that a test using the codes of the
// steps around "now" is not cut by a step boundary.
async function earlyInStep() {
  const into = (Date.now() / 1000) % 30;
  if (into > 5) await sleep((30 - into + 0.2) * 1000);
}

function assertError(r, status, code, field = undefined) {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.equal(r.json?.error?.code, code, r.text);
  if (field !== undefined) assert.equal(r.json.error.field, field, r.text);
}

// The raw bytes of the store: the database file and its WAL.
function storeBytes(srv) {
  const parts = [readFileSync(srv.db)];
  if (existsSync(`${srv.db}-wal`)) parts.push(readFileSync(`${srv.db}-wal`));
  return Buffer.concat(parts);
}

// A new staff account made by the city account: returns its TOTP secret.
async function makeStaff(staff, username, password, role = 'district') {
  const r = await staff.request('POST', '/api/staff', { json: { username, password, role } });
  assert.equal(r.status, 201, r.text);
  return r.json.totp.secret;
}

describe('staff accounts: passwords, second factor, lockout', () => {
  let srv, city;
  before(async () => {
    srv = await startServer({ label: 'accounts', extraArgs: ['--lock-seconds', '3'] });
    city = await staffLogin(srv);
  });
  after(async () => {
    if (srv) await srv.cleanup();
  });

  it('a new password is refused when short, long, common or holding the username', async () => {
    const cases = [
      ['short-pw-1', 'too_short'], // 10 characters
      ['密码密码密码密码密码1', 'too_short'], // 11 characters, 31 bytes: characters count
      ['x'.repeat(129), 'too_long'],
      ['password2024', 'common_password'],
      ['Qwertyuiop123', 'common_password'], // case does not matter
      ['zhangsan19870512', 'common_password'], // a common word with digits around it
      ['woaini1314!!!', 'common_password'],
      ['123456789012', 'common_password'],
      ['1qaz2wsx3edc4rfv', 'common_password'], // a keyboard walk
      ['my-clerk.li-is-here', 'contains_username'],
      ['MY-CLERK.LI-is-here', 'contains_username'],
    ];
    for (const [password, code] of cases) {
      const r = await city.request('POST', '/api/staff', { json: { username: 'clerk.li', password, role: 'district' } });
      assertError(r, 400, code, 'password');
      assert.ok(!r.text.includes(password), 'the error does not repeat the password');
    }
    // twelve characters of something uncommon is enough
    const ok = await city.request('POST', '/api/staff', {
      json: { username: 'clerk.li', password: 'river-kite-42', role: 'district' },
    });
    assert.equal(ok.status, 201, ok.text);
  });

  it('a new account gets its TOTP secret once, as base32 and an otpauth URI; the store holds it sealed', async () => {
    const r = await city.request('POST', '/api/staff', {
      json: { username: 'clerk.wang', password: 'lantern-harbor-7', role: 'district' },
    });
    assert.equal(r.status, 201, r.text);
    const { secret, uri } = r.json.totp;
    assert.match(secret, /^[A-Z2-7]{32}$/, '160 bits in base32');
    assert.equal(uri, `otpauth://totp/ruxue:clerk.wang?secret=${secret}&issuer=ruxue&algorithm=SHA1&digits=6&period=30`);
    // not in the store as text, nor as its raw bytes
    const raw = storeBytes(srv);
    assert.equal(raw.indexOf(Buffer.from(secret)), -1, 'the base32 secret is not in the store');
    const bytes = Buffer.from(
      secret.split('').map((c) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'.indexOf(c).toString(2).padStart(5, '0')).join('')
        .match(/.{8}/g).map((b) => parseInt(b, 2)),
    );
    assert.equal(bytes.length, 20);
    assert.equal(raw.indexOf(bytes), -1, 'the raw secret is not in the store');
    assert.equal(raw.indexOf(Buffer.from('lantern-harbor-7')), -1, 'nor the password');
    assert.ok(raw.indexOf(Buffer.from('$argon2id$')) >= 0, 'passwords are argon2id hashes');
    // the account reads no one's secret back: /api/me has none
    const c = new Client(srv);
    assert.equal((await staffSignIn(c, 'clerk.wang', 'lantern-harbor-7', secret)).status, 200);
    const me = await c.request('GET', '/api/me');
    assert.equal(me.status, 200);
    assert.equal(me.json.totp, undefined);
    assert.ok(!me.text.includes(secret));
  });

  it('sign-in needs the current code: none 400, wrong 401, used again 401 code_used; a step either side is accepted', async () => {
    const secret = await makeStaff(city, 'clerk.zhao', 'moonlit-orchard-3');
    const c = new Client(srv);
    const pw = 'moonlit-orchard-3';
    await earlyInStep();
    assertError(await c.request('POST', '/api/staff/login', { json: { username: 'clerk.zhao', password: pw } }), 400, 'missing', 'code');
    assertError(await c.request('POST', '/api/staff/login', { json: { username: 'clerk.zhao', password: pw, code: '12345' } }), 400, 'missing', 'code');
    const now = step();
    // a code two steps away is wrong; the right code with a wrong password is wrong too
    const far = totpAt(secret, now + 3);
    assertError(await c.request('POST', '/api/staff/login', { json: { username: 'clerk.zhao', password: pw, code: far } }), 401, 'bad_credentials');
    assertError(await c.request('POST', '/api/staff/login', { json: { username: 'clerk.zhao', password: `${pw}x`, code: totpAt(secret, now) } }), 401, 'bad_credentials');
    assert.equal(c.cookie, null);
    // the previous step's code signs in (clock drift) ...
    const prev = totpAt(secret, now - 1);
    usedTotpStep(secret, now - 1);
    const ok = await c.request('POST', '/api/staff/login', { json: { username: 'clerk.zhao', password: pw, code: prev } });
    assert.equal(ok.status, 200, ok.text);
    // ... once: the same code again, or an older one, is refused
    const again = await new Client(srv).request('POST', '/api/staff/login', { json: { username: 'clerk.zhao', password: pw, code: prev } });
    assertError(again, 401, 'code_used');
    // the next step's code is accepted too
    usedTotpStep(secret, now + 1);
    const next = await new Client(srv).request('POST', '/api/staff/login', {
      json: { username: 'clerk.zhao', password: pw, code: totpAt(secret, now + 1) },
    });
    assert.equal(next.status, 200, next.text);
    // and after it, the current step's code (now before the last used) is used up
    const cur = await new Client(srv).request('POST', '/api/staff/login', {
      json: { username: 'clerk.zhao', password: pw, code: totpAt(secret, now) },
    });
    assertError(cur, 401, 'code_used');
  });

  it('5 failures lock the account: 423 with Retry-After, audited, even with the right code; the lock ends by itself', async () => {
    const secret = await makeStaff(city, 'clerk.sun', 'quiet-meadow-88');
    const c = new Client(srv);
    for (let i = 0; i < 4; i++) {
      const r = await c.request('POST', '/api/staff/login', { json: { username: 'clerk.sun', password: 'wrong-password-x', code: '000000' } });
      assertError(r, 401, 'bad_credentials');
    }
    const fifth = await c.request('POST', '/api/staff/login', { json: { username: 'clerk.sun', password: 'wrong-password-x', code: '000000' } });
    assertError(fifth, 423, 'locked');
    const ra = Number(fifth.headers.get('retry-after'));
    assert.ok(ra >= 1 && ra <= 3, `Retry-After ${fifth.headers.get('retry-after')} (--lock-seconds 3)`);
    const right = await staffSignIn(c, 'clerk.sun', 'quiet-meadow-88', secret);
    assertError(right, 423, 'locked');
    assert.equal(c.cookie, null);
    const audit = await city.request('GET', '/api/console/audit?limit=1000');
    assert.equal(audit.status, 200, audit.text);
    const lock = audit.json.entries.filter((e) => e.action === 'staff.lockout' && e.object === 'clerk.sun');
    assert.equal(lock.length, 1, 'the lockout is in the audit log');
    await sleep(3500);
    const later = await staffSignIn(c, 'clerk.sun', 'quiet-meadow-88', secret);
    assert.equal(later.status, 200, later.text);
  });

  it('an unknown username locks the same way (no way to tell which accounts exist)', async () => {
    const c = new Client(srv);
    let last;
    for (let i = 0; i < 5; i++) {
      last = await c.request('POST', '/api/staff/login', { json: { username: 'no.such.user', password: 'wrong-password-x', code: '000000' } });
    }
    assertError(last, 423, 'locked');
  });

  it('a city administrator unlocks early (audited); a school or district account may not unlock a city one', async () => {
    const secret = await makeStaff(city, 'clerk.qian', 'copper-lantern-19');
    const c = new Client(srv);
    for (let i = 0; i < 5; i++) {
      await c.request('POST', '/api/staff/login', { json: { username: 'clerk.qian', password: 'wrong-password-x', code: '000000' } });
    }
    assertError(await staffSignIn(c, 'clerk.qian', 'copper-lantern-19', secret), 423, 'locked');
    // a district account may not unlock the city's demo account
    const d = new Client(srv);
    assert.equal((await staffSignIn(d, 'clerk.qian', 'copper-lantern-19', secret)).status, 423);
    const un = await city.request('POST', '/api/staff/unlock', { json: { username: 'clerk.qian' } });
    assert.equal(un.status, 200, un.text);
    assert.equal((await staffSignIn(d, 'clerk.qian', 'copper-lantern-19', secret)).status, 200);
    assertError(await d.request('POST', '/api/staff/unlock', { json: { username: 'demo' } }), 403, 'forbidden');
    assertError(await city.request('POST', '/api/staff/unlock', { json: { username: 'nobody.here' } }), 404, 'not_found');
    const audit = await city.request('GET', '/api/console/audit?limit=1000');
    assert.ok(audit.json.entries.some((e) => e.action === 'staff.unlock' && e.object === 'clerk.qian' && e.actor === 'staff:demo'));
  });

  it('a reset gives a new TOTP secret once (the old one stops working) and ends the account\'s sessions; audited', async () => {
    const old = await makeStaff(city, 'clerk.feng', 'harvest-lantern-26');
    const a = new Client(srv);
    assert.equal((await staffSignIn(a, 'clerk.feng', 'harvest-lantern-26', old)).status, 200);
    const r = await city.request('POST', '/api/staff/reset', { json: { username: 'clerk.feng' } });
    assert.equal(r.status, 200, r.text);
    const fresh = r.json.totp.secret;
    assert.match(fresh, /^[A-Z2-7]{32}$/);
    assert.notEqual(fresh, old);
    assertError(await a.request('GET', '/api/me'), 401, 'not_signed_in');
    const c = new Client(srv);
    assertError(await staffSignIn(c, 'clerk.feng', 'harvest-lantern-26', old), 401, 'bad_credentials');
    assert.equal((await staffSignIn(c, 'clerk.feng', 'harvest-lantern-26', fresh)).status, 200);
    // a district account may not reset the city's account
    assertError(await c.request('POST', '/api/staff/reset', { json: { username: 'demo' } }), 403, 'forbidden');
    const audit = await city.request('GET', '/api/console/audit?limit=1000');
    assert.ok(audit.json.entries.some((e) => e.action === 'staff.reset_totp' && e.object === 'clerk.feng'));
    assert.ok(!audit.text.includes(fresh), 'the secret is not in the audit log');
  });

  it('a password change needs the old password and a code, follows the policy, and ends every session of the account', async () => {
    const secret = await makeStaff(city, 'clerk.zhou', 'amber-pavilion-5');
    const a = new Client(srv);
    const b = new Client(srv);
    assert.equal((await staffSignIn(a, 'clerk.zhou', 'amber-pavilion-5', secret)).status, 200);
    assert.equal((await staffSignIn(b, 'clerk.zhou', 'amber-pavilion-5', secret)).status, 200);
    // (the policy and the old password are checked before the code: these spend none)
    const weak = await a.request('POST', '/api/staff/password', {
      json: { old_password: 'amber-pavilion-5', new_password: 'password1234', code: '000000' },
    });
    assertError(weak, 400, 'common_password', 'new_password');
    const wrongOld = await a.request('POST', '/api/staff/password', {
      json: { old_password: 'amber-pavilion-6', new_password: 'silver-canyon-77', code: '000000' },
    });
    assertError(wrongOld, 401, 'bad_credentials');
    const noCode = await a.request('POST', '/api/staff/password', {
      json: { old_password: 'amber-pavilion-5', new_password: 'silver-canyon-77' },
    });
    assertError(noCode, 400, 'missing', 'code');
    assert.equal((await b.request('GET', '/api/me')).status, 200, 'a refused change ends nothing');
    const ok = await a.request('POST', '/api/staff/password', {
      json: { old_password: 'amber-pavilion-5', new_password: 'silver-canyon-77', code: await freshTotp(secret) },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assertError(await b.request('GET', '/api/me', { cookie: b.cookie }), 401, 'not_signed_in');
    const aToken = a.cookie; // cleared by the answer; send the old one anyway
    assert.equal(aToken, null);
    const c = new Client(srv);
    assertError(await staffSignIn(c, 'clerk.zhou', 'amber-pavilion-5', secret), 401, 'bad_credentials');
    assert.equal((await staffSignIn(c, 'clerk.zhou', 'silver-canyon-77', secret)).status, 200);
    const audit = await city.request('GET', '/api/console/audit?limit=1000');
    assert.ok(audit.json.entries.some((e) => e.action === 'staff.password' && e.object === 'clerk.zhou'));
  });

  it('the ended session of a password change is gone even when its token is sent again', async () => {
    const secret = await makeStaff(city, 'clerk.wu', 'velvet-thunder-31');
    const a = new Client(srv);
    assert.equal((await staffSignIn(a, 'clerk.wu', 'velvet-thunder-31', secret)).status, 200);
    const token = a.cookie;
    const csrf = a.csrf;
    const ok = await a.request('POST', '/api/staff/password', {
      json: { old_password: 'velvet-thunder-31', new_password: 'granite-willow-64', code: await freshTotp(secret) },
    });
    assert.equal(ok.status, 200, ok.text);
    assertError(await a.request('GET', '/api/me', { cookie: token, csrf }), 401, 'not_signed_in');
  });
});

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

describe('the demo account follows the password policy', () => {
  it('serve --demo refuses a short, common or name-holding --demo-password with exit 2 and writes no store', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ruxue-demo-pw-'));
    try {
      const db = join(dir, 'store.db');
      for (const [pw, why] of [
        ['short-pw1', /at least 12 characters/],
        ['password1234', /common ones/],
        ['demo-demo-demo1', /must not contain the username/],
      ]) {
        const r = spawnSync(process.env.RUXUE || 'build/ruxue',
          ['serve', '--db', db, '--pii-key', join(dir, 'pii.key'), '--port', '0', '--demo', '--demo-password', pw],
          { encoding: 'utf8', timeout: 10000 });
        assert.equal(r.status, 2, `${pw}: ${r.stderr}`);
        assert.match(r.stderr, /--demo-password: /);
        assert.match(r.stderr, why);
        assert.ok(!r.stderr.includes(pw), 'the password is not echoed');
        assert.ok(!existsSync(db), 'nothing was written');
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
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
