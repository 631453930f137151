// accounts.test.mjs - the staff account rules of issue #7 item 6, each
// proven against the real server (docs/api.md, "Sign-in"):
//
//   staff   passwords of 12-128 characters, not common, without the
//           username (the demo account's too); a TOTP second factor for
//           every account (secret shown once at creation, sealed in the
//           store); a code is good once; 5 failures in 15 minutes lock the
//           account for 15 minutes (423, Retry-After, audited; a city
//           administrator can unlock); a password change ends every
//           session of the account
//
// Sessions, family codes, the deletion of what has expired and sign-in
// floods are in sessions.test.mjs: the two files wait on the clock (TOTP
// steps, session limits, minutes), so meson runs them side by side.
//
// The lock is shortened with serve's hidden flag --lock-seconds so that
// nothing sleeps for minutes.
//
//   RUXUE=build/ruxue node --test tests/e2e/accounts.test.mjs

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  assertError,
  Client,
  freshTotp,
  makeStaff,
  peekTotp,
  staffLogin,
  staffSignIn,
  startServer,
  storeBytes,
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
    // the old password, with a code that would be good (the password is
    // checked first, so the refusal spends no step)
    assertError(await c.request('POST', '/api/staff/login', {
      json: { username: 'clerk.zhou', password: 'amber-pavilion-5', code: await peekTotp(secret) },
    }), 401, 'bad_credentials');
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
