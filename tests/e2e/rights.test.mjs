// rights.test.mjs - who may call what, as a matrix (issue #7, item 5).
//
// Every route the server has (`ruxue serve --list-routes`, read from its own
// route tables) x every role (anonymous, family A, family B, school X staff,
// school Y staff, district staff, city staff) x the objects it can name
// (family A's and family B's applications, appeals, schools' rosters, ...).
// The table EXPECT below says, per route, which roles may call it and on
// which objects; a route the server has and the table does not fails the
// test, so no route can be added without deciding who may call it.
//
// Each request carries the role's session, its CSRF token and the server's
// own Origin, with a well-formed body, so that only the rights decide:
//   allowed  -> anything but 401/403 (a 409 for a step out of order is an
//               answer, not a refusal);
//   refused  -> 401 for the anonymous, 403 or 404 for the signed in; any
//               other answer below 500 (a 2xx, or a 409 from the step's own
//               checks) is an unexpected allow: the rights did not stop it;
//               never 5xx; the store unchanged (snapshot before and after the
//               refused requests of each route);
//   scoped   -> allowed, and the answer holds the role's own part and only
//               that (a list filtered, its own school's seats and roster).
// No answer to a role ever holds the receipt, name or phone of a family it
// may not see.  Someone else's application answers exactly as a receipt
// never issued (status, code, message).  Run before the freeze (window
// open) and after the publication; no route answers a method it does not
// list.
//
// CSRF: every state-changing route (any method but GET) refuses a signed-in
// request without the token, with a wrong token, with a foreign Origin and
// with Origin "null", and the store does not change; the sign-in and public
// POSTs (no session, so no token) refuse a foreign Origin.
//
// Requests go out from a different loopback address per role (127.0.0.2-9),
// so the per-address rate limits of sign-in count each role apart.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { checkChar, codeFromOutbox, freshTotp, idemKey, randomPhone, startServer, totpAt } from './harness.mjs';

const RUXUE = process.env.RUXUE;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (ms) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

// ------------------------------------------------------------ staff accounts
//
// How a staff account is made and signed in, in one place: made by a signed-in
// city (or district) session through POST /api/staff, as the demo city account
// does, and signed in with POST /api/staff/login.  When account creation or
// sign-in changes (a second factor, a password policy), only these change.

const STAFF_PASSWORD = () => `Rights-${randomBytes(12).toString('base64url')}`;

/** Make a staff account through the API; returns {username, password, role, school}. */
async function createStaff(by, { username, role, school = undefined }) {
  const acct = { username, password: STAFF_PASSWORD(), role, school };
  const r = await by.request('POST', '/api/staff', {
    json: { username, password: acct.password, role, ...(school ? { school } : {}) },
  });
  if (r.status !== 201) throw new Error(`POST /api/staff ${username}: ${r.status} ${r.text}`);
  acct.totp = r.json.totp.secret; // the second factor, shown once to the account's maker
  return acct;
}

/** The body of POST /api/staff/login for an account signed in with it once
 * (a TOTP code is good once: the probes are an account per role and state). */
function staffLoginBody(acct) {
  return { username: acct.username, password: acct.password, code: totpAt(acct.totp, Math.floor(Date.now() / 30000)) };
}

/** Sign an account in on a session (its cookie and CSRF token kept). */
async function staffSignIn(session, acct) {
  const r = await session.request('POST', '/api/staff/login', {
    json: { username: acct.username, password: acct.password, code: await freshTotp(acct.totp) },
  });
  if (r.status !== 200) throw new Error(`staff login ${acct.username}: ${r.status} ${r.text}`);
  session.acct = acct;
  session.fresh = async () => staffSignIn(new Session(session.srv, session.name, session.addr), acct);
  return session;
}

/** A staff account of a role made by `city` and a session signed in as it. */
async function staffAs(srv, city, { role, school = undefined, username, addr, name = username }) {
  const acct = await createStaff(city, { username, role, school });
  return staffSignIn(new Session(srv, name, addr), acct);
}

// ------------------------------------------------------------------ client

/**
 * A cookie-aware client bound to one loopback source address (node:http, so
 * the source address can be chosen).  Every request carries the server's own
 * Origin and, for any method but GET, the session's CSRF token, unless told:
 *   opts.json / opts.body (+ opts.type), opts.headers,
 *   opts.csrf   false: no token; a string: that token
 *   opts.origin false: no Origin; a string: that Origin
 *   opts.keepCookie false: a Set-Cookie in the answer is not taken
 */
class Session {
  constructor(srv, name, addr) {
    this.srv = srv;
    this.name = name;
    this.addr = addr;
    this.cookie = null;
    this.csrf = null;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 6, localAddress: addr });
  }

  request(method, path, opts = {}) {
    const headers = { Host: `127.0.0.1:${this.srv.port}` };
    let body = null;
    if (opts.json !== undefined) {
      body = Buffer.from(JSON.stringify(opts.json));
      headers['Content-Type'] = 'application/json';
    } else if (opts.body !== undefined) {
      body = Buffer.from(opts.body);
      headers['Content-Type'] = opts.type || 'application/octet-stream';
    }
    if (body) headers['Content-Length'] = String(body.length);
    if (this.cookie) headers.Cookie = `rx_session=${this.cookie}`;
    const csrf = opts.csrf === false ? null : typeof opts.csrf === 'string' ? opts.csrf : this.csrf;
    if (csrf && method !== 'GET') headers['X-CSRF-Token'] = csrf;
    const origin = opts.origin === false ? null : typeof opts.origin === 'string' ? opts.origin : this.srv.base;
    if (origin) headers.Origin = origin;
    Object.assign(headers, opts.headers || {});
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: this.srv.port, localAddress: this.addr, agent: this.agent, method, path, headers },
        (res) => {
          const chunks = [];
          res.on('data', (c) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json = null;
            try {
              json = text ? JSON.parse(text) : null;
            } catch {
              json = null;
            }
            const setCookie = res.headers['set-cookie'] || [];
            if (opts.keepCookie !== false) {
              for (const c of setCookie) {
                const m = /^\s*rx_session=([^;]*)(.*)$/i.exec(c);
                if (!m) continue;
                const gone = m[1] === '' || /;\s*max-age=0\b/i.test(m[2]);
                this.cookie = gone ? null : m[1];
                if (gone) this.csrf = null;
              }
              if (res.statusCode === 200 && json && typeof json.csrf === 'string') this.csrf = json.csrf;
            }
            resolve({ status: res.statusCode, headers: res.headers, setCookie, text, json });
          });
          res.on('error', reject);
        },
      );
      req.setTimeout(30000, () => req.destroy(new Error(`${method} ${path}: no answer in 30 s`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  close() {
    this.agent.destroy();
  }
}

// ----------------------------------------------------------------- families

let serial = 0;
/** A child born before the demo policy's cutoff (2020-08-31), each unique. */
function eligibleChildId() {
  serial++;
  const d17 = `440305${2020}${String(1 + (serial % 8)).padStart(2, '0')}${String(1 + (serial % 27)).padStart(2, '0')}${String(500 + serial).slice(-3)}`;
  return d17 + checkChar(d17);
}

/** Sign a phone in on a session: a code (read from the demo outbox by ctl), then the login. */
async function familySignIn(session, ctl, phone) {
  const r1 = await session.request('POST', '/api/family/code', { json: { phone } });
  if (r1.status !== 202) throw new Error(`family code ${phone}: ${r1.status} ${r1.text}`);
  const code = await codeFromOutbox(ctl, phone);
  if (!code) throw new Error(`no code for ${phone} in the outbox`);
  const r2 = await session.request('POST', '/api/family/login', { json: { phone, code } });
  if (r2.status !== 200) throw new Error(`family login ${phone}: ${r2.status} ${r2.text}`);
  session.phone = phone;
  session.fresh = async () => familySignIn(new Session(session.srv, session.name, session.addr), ctl, phone);
  return session;
}

// ----------------------------------------------------------- the expectation

const ROLES = ['anon', 'famA', 'famB', 'schoolX', 'schoolY', 'district', 'city'];
const KIND = { anon: 'anon', famA: 'family', famB: 'family', schoolX: 'school', schoolY: 'school', district: 'district', city: 'city' };
const ADDR = { anon: '127.0.0.2', famA: '127.0.0.3', famB: '127.0.0.4', schoolX: '127.0.0.5', schoolY: '127.0.0.6', district: '127.0.0.7', city: '127.0.0.8', ctl: '127.0.0.9' };

// What a kind of role may reach: 'all' (any object, or the route has none),
// 'own' (its own objects: a family its applications, a school the
// applications that list it or whose child holds a seat there), 'scoped'
// (answered, with only its own part: a list filtered, its own school's
// seats); absent = refused.
const ANYONE = { anon: 'all', family: 'all', school: 'all', district: 'all', city: 'all' };
const SIGNED_IN = { family: 'all', school: 'all', district: 'all', city: 'all' };
const STAFF = { school: 'all', district: 'all', city: 'all' };
const BUREAU = { district: 'all', city: 'all' };
const FAMILY_OWN = { family: 'own' };
const READERS = { family: 'own', school: 'own', district: 'all', city: 'all' };
const STAFF_SCOPED = { school: 'scoped', district: 'all', city: 'all' };

const NO_RECEIPT = 'RX-2027G1-2222222222'; // well-formed, never issued
const ENTROPY = '2027-06-30 福彩3D 第2027170期 开奖号码 4 7 1';

// Objects: applications 'A', 'B' (each family's submitted one; A lists school
// X, B school Y), 'A2', 'B2' (each family's second one, a draft with no
// school), schools 'X', 'Y'.  On a route marked destructive the allowed
// requests go to A2 and B2 only, so that A and B keep their state (the
// refused ones go to all four).
const receipt = (c, o) => c.rec[o] ?? NO_RECEIPT;
const APPS = () => ['A', 'B'];

// The table: every route of the server, who may call it, and a well-formed
// request for (role, object, context).
const EXPECT = {
  'GET /api/health': { who: ANYONE, req: () => ({ path: '/api/health' }) },
  'POST /api/staff/login': {
    who: ANYONE,
    signIn: true,
    req: (role, o, c) => ({ path: '/api/staff/login', json: staffLoginBody(c.probeStaff[c.phase][role]), keepCookie: false }),
  },
  'POST /api/family/code': {
    who: ANYONE,
    signIn: true,
    req: (role, o, c) => ({ path: '/api/family/code', json: { phone: c.probePhone[role] } }),
  },
  'POST /api/family/login': {
    who: ANYONE,
    signIn: true,
    req: async (role, o, c) => {
      const phone = c.probePhone[role];
      const code = (await codeFromOutbox(c.ctl, phone)) ?? '000000';
      return { path: '/api/family/login', json: { phone, code }, keepCookie: false };
    },
  },
  'GET /api/me': { who: SIGNED_IN, req: () => ({ path: '/api/me' }) },
  // a fresh session of the role is signed out, not the one the matrix uses
  'POST /api/staff': {
    who: BUREAU,
    req: (role, o, c) => ({
      path: '/api/staff',
      json: { username: `made-by-${role.toLowerCase()}-${randomBytes(4).toString('hex')}`, password: STAFF_PASSWORD(), role: 'school', school: c.school.X },
    }),
  },
  'POST /api/logout': { who: SIGNED_IN, freshSession: true, req: () => ({ path: '/api/logout' }) },
  // one's own password: every staff account.  The new password is one the
  // policy refuses: the rights are decided before the body, and an allowed
  // call then changes nothing (a change would end the role's own sessions;
  // tests/e2e/accounts.test.mjs proves the change itself)
  'POST /api/staff/password': {
    who: STAFF,
    req: (role, o, c) => ({ path: '/api/staff/password', json: { old_password: 'not-the-password', new_password: 'short', code: '000000' } }),
  },
  // another account's lockout and second factor: the bureau's (a district
  // account manages its district's non-city accounts); the target is an
  // account made for it in each state
  'POST /api/staff/unlock': {
    who: BUREAU,
    req: (role, o, c) => ({ path: '/api/staff/unlock', json: { username: c.victimStaff[c.phase].username } }),
  },
  'POST /api/staff/reset': {
    who: BUREAU,
    req: (role, o, c) => ({ path: '/api/staff/reset', json: { username: c.victimStaff[c.phase].username } }),
  },
  // it holds every family's sign-in code: the bureau's only (a school could sign in as any family)
  'GET /api/demo/outbox': { who: BUREAU, req: () => ({ path: '/api/demo/outbox' }) },
  'POST /api/applications': {
    who: { family: 'all' },
    req: (role) => ({
      path: '/api/applications',
      json: { id_number: eligibleChildId(), child_name: `新申请${role}` },
      headers: { 'Idempotency-Key': idemKey() },
    }),
  },
  'GET /api/applications': { who: { family: 'scoped', ...STAFF_SCOPED }, req: () => ({ path: '/api/applications?limit=1000' }) },
  'GET /api/applications/{}': { who: READERS, objects: APPS, req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}` }) },
  'PUT /api/applications/{}': {
    who: FAMILY_OWN,
    objects: APPS,
    req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}`, json: c.body[o] ?? c.body.A }),
  },
  'POST /api/applications/{}/submit': { who: FAMILY_OWN, objects: APPS, req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/submit` }) },
  'POST /api/applications/{}/withdraw': {
    who: FAMILY_OWN,
    objects: () => ['A2', 'B2', 'A', 'B'],
    destructive: true,
    req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/withdraw` }),
  },
  // decided on the spare drafts only: A and B stay in the review queue, for GET /api/review to filter
  'POST /api/applications/{}/review': {
    who: BUREAU,
    objects: () => ['A2', 'B2', 'A', 'B'],
    destructive: true,
    req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/review`, json: { decision: 'verified', note: '权限测试：材料已核验' } }),
  },
  // a school account sees its own school's queue, whatever ?school= asks
  'GET /api/review': { who: STAFF_SCOPED, objects: () => ['X', 'Y'], req: (r, o, c) => ({ path: `/api/review?school=${c.school[o]}` }) },
  'GET /api/applications/{}/evidence': { who: BUREAU, objects: APPS, req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/evidence` }) },
  // the full numbers: a bureau action, audited by pseudonym (schools ask the bureau)
  'POST /api/applications/{}/reveal': { who: BUREAU, objects: APPS, req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/reveal` }) },
  'GET /api/applications/{}/standing': { who: READERS, objects: APPS, req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/standing` }) },
  'POST /api/intake/dry-run': { who: BUREAU, req: () => ({ path: '/api/intake/dry-run', json: {} }) },
  'GET /api/district': { who: STAFF, req: () => ({ path: '/api/district' }) },
  'PUT /api/district/{}': {
    who: BUREAU,
    req: (r, o, c) => ({ path: '/api/district/schools.csv?check=1', body: c.schoolsCsv, type: 'text/csv' }),
  },
  'GET /api/window': { who: ANYONE, req: () => ({ path: '/api/window' }) },
  'GET /api/form': { who: ANYONE, req: () => ({ path: '/api/form' }) },
  'GET /api/form/units': { who: ANYONE, req: () => ({ path: '/api/form/units?q=U0' }) },
  'GET /api/records': { who: STAFF, req: () => ({ path: '/api/records' }) },
  'PUT /api/records/{}': {
    who: BUREAU,
    req: () => ({ path: '/api/records/hukou.csv?check=1', body: 'id_number,unit,since,household\r\n', type: 'text/csv' }),
  },
  // the window as it is, sent again
  'PUT /api/window': { who: BUREAU, req: (r, o, c) => ({ path: '/api/window', json: c.window }) },
  'GET /api/intake': { who: ANYONE, req: () => ({ path: '/api/intake' }) },
  'POST /api/intake/commit': { who: BUREAU, req: () => ({ path: '/api/intake/commit' }) },
  'POST /api/intake/freeze': { who: BUREAU, req: () => ({ path: '/api/intake/freeze' }) },
  'POST /api/intake/draw': { who: BUREAU, req: () => ({ path: '/api/intake/draw', json: { entropy: ENTROPY } }) },
  'POST /api/intake/run': { who: BUREAU, req: () => ({ path: '/api/intake/run' }) },
  'POST /api/intake/publish': { who: BUREAU, req: (r, o, c) => ({ path: '/api/intake/publish', json: { deadline: c.deadline } }) },
  'POST /api/intake/expire': { who: BUREAU, req: () => ({ path: '/api/intake/expire' }) },
  // a child placed where it is already: answered the same, nothing moves
  'POST /api/intake/place': {
    who: BUREAU,
    objects: APPS,
    req: (r, o, c) => ({ path: '/api/intake/place', json: { receipt: receipt(c, o), school: c.school[o === 'A' ? 'X' : 'Y'], note: '权限测试' } }),
  },
  'GET /api/intake/seats': { who: STAFF_SCOPED, req: () => ({ path: '/api/intake/seats' }) },
  'GET /api/intake/moves': { who: BUREAU, req: () => ({ path: '/api/intake/moves' }) },
  // a school account is answered with its own school whatever it asks
  'GET /api/intake/roster': {
    who: STAFF_SCOPED,
    objects: () => ['X', 'Y'],
    req: (r, o, c) => ({ path: `/api/intake/roster?school=${c.school[o]}` }),
  },
  'GET /api/applications/{}/result': { who: READERS, objects: APPS, req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/result` }) },
  'POST /api/applications/{}/accept': { who: FAMILY_OWN, objects: APPS, req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/accept` }) },
  'POST /api/applications/{}/decline': {
    who: FAMILY_OWN,
    objects: () => ['A2', 'B2', 'A', 'B'],
    destructive: true,
    req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/decline` }),
  },
  'POST /api/applications/{}/appeal': {
    who: FAMILY_OWN,
    objects: APPS,
    req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/appeal`, json: { text: '权限测试：请求复核。' } }),
  },
  'GET /api/appeals': { who: BUREAU, req: () => ({ path: '/api/appeals' }) },
  'POST /api/appeals/{}/answer': {
    who: BUREAU,
    objects: APPS,
    req: (r, o, c) => ({ path: `/api/appeals/${encodeURIComponent(c.appeal[o] ?? `${NO_RECEIPT}.1`)}/answer`, json: { answer: '权限测试：已答复。' } }),
  },
  'GET /api/console/places': { who: STAFF, req: () => ({ path: '/api/console/places' }) },
  'GET /api/console/audit': { who: BUREAU, req: () => ({ path: '/api/console/audit' }) },
  'GET /api/console/export/{}': {
    who: (kind, o) => (['moves.csv', 'appeals.csv'].includes(o) ? BUREAU : STAFF_SCOPED)[kind],
    objects: () => ['applications.csv', 'review.csv', 'seats.csv', 'moves.csv', 'appeals.csv'],
    req: (r, o) => ({ path: `/api/console/export/${o}` }),
  },
  // the signed admission notice: the family and the bureau (a school: 403)
  'GET /api/applications/{}/notice': {
    who: { family: 'own', district: 'all', city: 'all' },
    objects: APPS,
    req: (r, o, c) => ({ path: `/api/applications/${receipt(c, o)}/notice` }),
  },
  'POST /api/notice/verify': { who: ANYONE, signIn: true, req: () => ({ path: '/api/notice/verify', json: { text: 'ruxue-notice-v1\nintake=2027-G1\n' } }) },
  'GET /api/public/cutoffs': { who: ANYONE, req: () => ({ path: '/api/public/cutoffs' }) },
};

/** What a role may do with an object on a route: 'all' | 'own' | 'scoped' | undefined (refused). */
function allowance(spec, role, o) {
  const kind = KIND[role];
  return typeof spec.who === 'function' ? spec.who(kind, o) : spec.who[kind];
}

/** The objects a role owns: a family its applications, a school those listing it. */
function owns(role, o) {
  return {
    famA: ['A', 'A2'],
    famB: ['B', 'B2'],
    schoolX: ['A', 'X'],
    schoolY: ['B', 'Y'],
  }[role]?.includes(o) ?? false;
}

/** 'allow', 'scoped' or 'refuse' for (route, role, object). */
function expected(spec, role, o) {
  const a = allowance(spec, role, o);
  if (!a) return 'refuse';
  if (a === 'all') return 'allow';
  if (a === 'scoped') return 'scoped'; // answered with its own part, whatever it names
  return o === null || owns(role, o) ? 'allow' : 'refuse';
}

// ------------------------------------------------------------------- test

describe('rights: every route x every role x objects of someone else', () => {
  let srv, tmp, ctl;
  const roles = {};
  const c = { rec: {}, body: {}, school: {}, appeal: {}, probeStaff: {}, victimStaff: {}, probePhone: {} };
  let serverRoutes = [];
  const tally = { requests: 0, allowed: 0, refused: 0, scoped: 0, cells: 0, spared: 0, csrf: 0, unexpectedAllows: [], unexpectedRefusals: [], problems: [], csrfProblems: [] };

  // Strings a role must never be shown: the receipts, names and phones of the families it may not see.
  function forbidden(role) {
    const fam = { A: ['A', 'A2'], B: ['B', 'B2'] };
    const tokensOf = (objs) => objs.flatMap((o) => [c.rec[o], c.name[o]]);
    switch (role) {
      case 'anon':
        return [...tokensOf([...fam.A, ...fam.B]), c.phone.A, c.phone.B];
      case 'famA':
        return [...tokensOf(fam.B), c.phone.B];
      case 'famB':
        return [...tokensOf(fam.A), c.phone.A];
      case 'schoolX':
        return [...tokensOf(['A2', 'B', 'B2']), c.phone.A, c.phone.B];
      case 'schoolY':
        return [...tokensOf(['B2', 'A', 'A2']), c.phone.A, c.phone.B];
      default:
        return [];
    }
  }

  // The answer of a scoped route holds the role's own part, and only that.
  function scopeProblem(key, role, o, res) {
    if (res.status !== 200) return null;
    const mine = { famA: 'A', famB: 'B', schoolX: 'A', schoolY: 'B' }[role];
    const ownSchool = { schoolX: 'X', schoolY: 'Y' }[role];
    const shows =
      key === 'GET /api/applications' ||
      (key === 'GET /api/review' && o === ownSchool) ||
      (key === 'GET /api/console/export/{}' && ['applications.csv', 'review.csv'].includes(o));
    if (mine && shows && !res.text.includes(c.rec[mine])) return `its own application ${mine} is not in the answer: ${res.text.slice(0, 300)}`;
    if (key === 'GET /api/intake/roster' && mine && !res.text.includes(c.name[mine])) return `its own child ${mine} is not on the roster: ${res.text}`;
    const own = c.school[ownSchool];
    if (!own) return null;
    if (key === 'GET /api/intake/roster' && res.json?.school !== own) return `roster of ${res.json?.school}, not ${own}`;
    if (key === 'GET /api/intake/seats' && !(res.json?.schools || []).every((s) => s.school === own)) return `seats of other schools: ${res.text}`;
    if (key === 'GET /api/console/export/{}' && o === 'seats.csv') {
      const rows = res.text.replace(/^\uFEFF/, '').split('\r\n').slice(1).filter(Boolean);
      if (!rows.every((l) => l.startsWith(own + ','))) return `seats.csv with other schools: ${res.text}`;
    }
    return null;
  }

  // What must not change when a request is refused, as the city sees it.
  async function snapshot() {
    const get = async (path) => {
      const r = await ctl.request('GET', path);
      return `${r.status} ${r.status === 200 || r.status === 409 ? r.text : ''}`;
    };
    const paths = ['/api/applications?limit=1000', '/api/window', '/api/intake', '/api/district', '/api/records', '/api/demo/outbox'];
    if (c.published) paths.push('/api/appeals', '/api/intake/seats', '/api/intake/moves', ...['A', 'B'].map((o) => `/api/applications/${c.rec[o]}/result`));
    const out = Object.fromEntries(await Promise.all(paths.map(async (p) => [p, await get(p)])));
    // the audit log, without entries that only record a refusal (should refusals ever be logged)
    const entries = [];
    for (let after = 0; ; ) {
      const r = await ctl.request('GET', `/api/console/audit?after=${after}&limit=1000`);
      assert.equal(r.status, 200, r.text);
      for (const e of r.json.entries) {
        if (!/deni|refus|forbid|reject/i.test(`${e.action} ${e.detail ?? ''}`)) entries.push(`${e.seq} ${e.action} ${e.object}`);
      }
      if (r.json.next == null) break;
      after = r.json.next;
    }
    out.audit = entries.join('\n');
    return out;
  }

  function diff(a, b) {
    return Object.keys(a).filter((k) => a[k] !== b[k]);
  }

  async function send(session, key, role, o, phase) {
    const spec = EXPECT[key];
    const q = await spec.req(role, o, c);
    const method = key.split(' ')[0];
    const res = await session.request(method, q.path, q);
    tally.requests++;
    const where = `[${phase}] ${key} as ${role}${o ? ` on ${o}` : ''}`;
    if (process.env.RUXUE_RIGHTS_VERBOSE) console.log(`${where}: ${res.status} ${res.json?.error?.code ?? ''}`);
    return { res, q, where };
  }

  function leaks(role, res) {
    return forbidden(role).filter((t) => t && res.text.includes(t));
  }

  async function runMatrix(phase) {
    c.phase = phase;
    for (const key of serverRoutes) {
      const t0 = Date.now();
      const spec = EXPECT[key];
      const objects = spec.objects ? spec.objects(c) : [null];
      const refused = [];
      const allowed = [];
      for (const o of objects) {
        for (const role of ROLES) {
          const e = expected(spec, role, o);
          tally.cells++;
          if (e !== 'refuse' && spec.destructive && !['A2', 'B2'].includes(o)) {
            tally.spared++; // not spent on the real ones
            continue;
          }
          (e === 'refuse' ? refused : allowed).push({ role, o, e });
        }
      }
      // the refused first, with the store compared before and after
      const snapBefore = refused.length ? await snapshot() : null;
      for (const { role, o } of refused) {
        const { res, where } = await send(roles[role], key, role, o, phase);
        tally.refused++;
        const ok = role === 'anon' ? res.status === 401 : res.status === 403 || res.status === 404;
        // any other answer below 500 (a 2xx, or a 409 from the step's own checks) means the rights let it through
        if (!ok && ![401, 403, 404].includes(res.status) && res.status < 500) tally.unexpectedAllows.push(`${where}: ${res.status} ${res.text.slice(0, 200)}`);
        else if (!ok) tally.problems.push(`${where}: refused with ${res.status}, expected ${role === 'anon' ? '401' : '403/404'}: ${res.text.slice(0, 200)}`);
        const leaked = leaks(role, res);
        if (leaked.length) tally.problems.push(`${where}: the refusal shows ${leaked.join(', ')}`);
        // someone else's application answers exactly as one that does not exist
        if (o && c.rec[o]) {
          const none = await send(roles[role], key, role, 'none', phase);
          if (none.res.status !== res.status || none.res.json?.error?.code !== res.json?.error?.code || none.res.json?.error?.message !== res.json?.error?.message)
            tally.problems.push(`${where}: ${res.status} ${res.text} differs from a receipt that does not exist: ${none.res.status} ${none.res.text}`);
        }
      }
      if (snapBefore) {
        const changed = diff(snapBefore, await snapshot());
        if (changed.length) tally.problems.push(`[${phase}] ${key}: refused requests changed ${changed.join(', ')}`);
      }
      for (const { role, o, e } of allowed) {
        const session = spec.freshSession && role !== 'anon' ? await roles[role].fresh() : roles[role];
        const { res, where } = await send(session, key, role, o, phase);
        if (session !== roles[role]) session.close();
        tally[e === 'scoped' ? 'scoped' : 'allowed']++;
        if (res.status === 401 || res.status === 403) tally.unexpectedRefusals.push(`${where}: ${res.status} ${res.text.slice(0, 200)}`);
        if (res.status >= 500) tally.problems.push(`${where}: ${res.status} ${res.text.slice(0, 200)}`);
        const leaked = leaks(role, res);
        if (leaked.length) tally.problems.push(`${where}: the answer shows ${leaked.join(', ')}`);
        const sp = e === 'scoped' ? scopeProblem(key, role, o, res) : null;
        if (sp) tally.problems.push(`${where}: ${sp}`);
      }
      if (process.env.RUXUE_RIGHTS_VERBOSE) console.log(`[${phase}] ${key}: ${Date.now() - t0} ms`);
    }
  }

  // Every state-changing route refuses a signed-in request without the token,
  // with a wrong one, with a foreign Origin or Origin null; the sign-in and
  // public POSTs refuse a foreign Origin.  Nothing changes.
  async function runCsrf(phase) {
    c.phase = phase;
    let checked = 0;
    for (const key of serverRoutes) {
      if (key.startsWith('GET ')) continue;
      const spec = EXPECT[key];
      const objects = spec.objects ? spec.objects(c) : [null];
      // the first role allowed, on an object it may use: only the token or the Origin can refuse it
      let actor = null;
      for (const role of spec.signIn ? ['anon'] : ['famA', 'city', 'schoolX']) {
        const o = objects.find((x) => expected(spec, role, x) !== 'refuse' && (!spec.destructive || ['A2', 'B2'].includes(x)));
        if (o !== undefined) {
          actor = { role, o };
          break;
        }
      }
      assert.ok(actor, `${key}: no role may call it`);
      const variants =
        actor.role === 'anon'
          ? [{ origin: 'https://evil.example' }, { origin: 'null' }]
          : [{ csrf: false }, { csrf: '0'.repeat(64) }, { origin: 'https://evil.example' }, { origin: 'null' }];
      const before = await snapshot();
      for (const v of variants) {
        const q = await spec.req(actor.role, actor.o, c);
        const res = await roles[actor.role].request(key.split(' ')[0], q.path, { ...q, ...v, keepCookie: false });
        tally.requests++;
        tally.csrf++;
        checked++;
        const where = `[${phase}] CSRF ${key} as ${actor.role}${actor.o ? ` on ${actor.o}` : ''} with ${JSON.stringify(v)}`;
        if (res.status !== 403 || res.json?.error?.code !== 'csrf') tally.csrfProblems.push(`${where}: ${res.status} ${res.text.slice(0, 200)}`);
        if (res.setCookie.some((x) => /rx_session=[^;]/.test(x))) tally.csrfProblems.push(`${where}: a session cookie was set`);
      }
      const after = await snapshot();
      const changed = diff(before, after);
      if (changed.length) tally.csrfProblems.push(`[${phase}] CSRF ${key}: refused requests changed ${changed.join(', ')}`);
      if (actor.role !== 'anon') {
        const me = await roles[actor.role].request('GET', '/api/me');
        if (me.status !== 200) tally.csrfProblems.push(`[${phase}] CSRF ${key}: ${actor.role}'s session is gone: ${me.status}`);
      }
    }
    return checked;
  }

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'rx-rights-'));
    const district = join(tmp, 'city');
    const g = spawnSync(RUXUE, ['demo', '--out', district, '--students', '50', '--schools', '6', '--seed', '5']);
    assert.equal(g.status, 0, String(g.stderr));
    // a second private school, so that two schools each have a family of their own
    const schools = readFileSync(join(district, 'schools.csv'), 'utf8');
    const rows = schools.replace(/^\uFEFF/, '').split('\r\n').filter(Boolean);
    const privs = rows.slice(1).filter((r) => r.split(',')[2] === 'private').map((r) => r.split(',')[0]);
    assert.ok(privs.length >= 1, schools);
    c.school.X = privs[0];
    c.school.Y = privs[1] ?? 'S0099';
    if (!privs[1]) writeFileSync(join(district, 'schools.csv'), schools.replace(/\r\n$/, '') + `\r\n${c.school.Y},权限测试民办学校,private,5,30.600000,104.100000\r\n`);
    c.schoolsCsv = readFileSync(join(district, 'schools.csv'), 'utf8');

    srv = await startServer({ label: 'rights', extraArgs: ['--district', district] });
    ctl = new Session(srv, 'ctl', ADDR.ctl);
    await staffSignIn(ctl, { username: 'demo', password: srv.password, totp: srv.totp });
    roles.anon = new Session(srv, 'anon', ADDR.anon);
    roles.anon.fresh = async () => new Session(srv, 'anon', ADDR.anon);
    roles.city = await staffSignIn(new Session(srv, 'city', ADDR.city), { username: 'demo', password: srv.password, totp: srv.totp });
    roles.district = await staffAs(srv, roles.city, { role: 'district', username: 'rights-district', addr: ADDR.district, name: 'district' });
    roles.schoolX = await staffAs(srv, roles.city, { role: 'school', school: c.school.X, username: 'rights-school-x', addr: ADDR.schoolX, name: 'schoolX' });
    roles.schoolY = await staffAs(srv, roles.city, { role: 'school', school: c.school.Y, username: 'rights-school-y', addr: ADDR.schoolY, name: 'schoolY' });
    // the accounts the staff sign-in is probed with (one per state and role: a
    // TOTP code is good once) and a phone per role for the family sign-in
    for (const phase of ['open', 'published']) {
      c.victimStaff[phase] = await createStaff(roles.city, { username: `victim-${phase}`, role: 'school', school: c.school.X });
      c.probeStaff[phase] = {};
      for (const role of ROLES)
        c.probeStaff[phase][role] = await createStaff(roles.city, { username: `probe-${phase}-${role.toLowerCase()}`, role: 'school', school: c.school.X });
    }
    for (const role of ROLES) c.probePhone[role] = randomPhone();
    c.phone = { A: randomPhone(), B: randomPhone() };
    roles.famA = await familySignIn(new Session(srv, 'famA', ADDR.famA), ctl, c.phone.A);
    roles.famB = await familySignIn(new Session(srv, 'famB', ADDR.famB), ctl, c.phone.B);
    c.name = { A: '甲家孩子', A2: '甲家草稿', B: '乙家孩子', B2: '乙家草稿' };
    for (const [fam, o, school, submit] of [['famA', 'A', 'X', true], ['famA', 'A2', null, false], ['famB', 'B', 'Y', true], ['famB', 'B2', null, false]]) {
      const body = { child_name: c.name[o], claims: {}, private_choices: school ? [c.school[school]] : [], catchment_order: [] };
      const r = await roles[fam].request('POST', '/api/applications', {
        json: { id_number: eligibleChildId(), submit, ...body },
        headers: { 'Idempotency-Key': idemKey() },
      });
      assert.equal(r.status, 201, r.text);
      c.rec[o] = r.json.receipt;
      c.body[o] = body;
    }
    const commit = await roles.city.request('POST', '/api/intake/commit');
    assert.equal(commit.status, 200, commit.text);
    c.window = await (async () => {
      const w = (await ctl.request('GET', '/api/window')).json;
      return { opens: w.opens, closes: w.closes };
    })();
    c.deadline = iso(Date.now() + 2 * 86400e3);
    c.ctl = ctl;
    const out = spawnSync(RUXUE, ['serve', '--list-routes'], { encoding: 'utf8' });
    assert.equal(out.status, 0, out.stderr);
    serverRoutes = out.stdout.split('\n').filter(Boolean);
  });

  after(async () => {
    for (const s of [ctl, ...Object.values(roles)]) s?.close();
    await srv?.cleanup();
    if (tmp && !process.env.RUXUE_E2E_KEEP) rmSync(tmp, { recursive: true, force: true });
  });

  it('the route list comes from the server, and every route has a row in the table', () => {
    assert.ok(serverRoutes.length >= 40, serverRoutes.join('\n'));
    for (const line of serverRoutes) assert.match(line, /^(GET|POST|PUT|DELETE|PATCH) \/api\/\S+$/, line);
    const missing = serverRoutes.filter((k) => !EXPECT[k]);
    assert.deepEqual(missing, [], `routes with no row in EXPECT (decide who may call them): ${missing.join(', ')}`);
    const stale = Object.keys(EXPECT).filter((k) => !serverRoutes.includes(k));
    assert.deepEqual(stale, [], `rows for routes the server does not have: ${stale.join(', ')}`);
  });

  it('no route answers a method it does not list (DELETE, PATCH, or the other of GET/POST/PUT)', async () => {
    const paths = [...new Set(serverRoutes.map((k) => k.split(' ')[1]))];
    const before = await snapshot();
    for (const p of paths) {
      const listed = serverRoutes.filter((k) => k.endsWith(` ${p}`)).map((k) => k.split(' ')[0]);
      const path = p.replace('{}', c.rec.A);
      for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].filter((x) => !listed.includes(x))) {
        const r = await roles.city.request(m, path, m === 'GET' ? {} : { json: {} });
        tally.requests++;
        assert.ok(r.status === 404 || r.status === 405, `${m} ${path}: ${r.status} ${r.text}`);
      }
    }
    assert.deepEqual(diff(before, await snapshot()), []);
  });

  // The findings of one state (the last test prints them all).
  function findings(phase, lists) {
    return lists.flatMap((l) => tally[l].filter((x) => x.startsWith(`[${phase}]`)));
  }

  it('before the freeze (window open): every route x every role x objects, no unexpected allow or refusal', async () => {
    await runMatrix('open');
    assert.deepEqual(findings('open', ['unexpectedAllows', 'unexpectedRefusals', 'problems']), []);
  });

  it('before the freeze: every state-changing route refuses no or a wrong CSRF token, a foreign or null Origin', async () => {
    assert.ok((await runCsrf('open')) > 0);
    assert.deepEqual(findings('open', ['csrfProblems']), []);
  });

  it('after the publication: every route x every role x objects, no unexpected allow or refusal', async () => {
    // close the window, freeze, draw, publish; each family holds a seat at its school
    const w = await roles.city.request('PUT', '/api/window', { json: { opens: iso(Date.now() - 86400e3), closes: iso(Date.now() + 1500) } });
    assert.equal(w.status, 200, w.text);
    await sleep(2000);
    for (const [path, json] of [['/api/intake/freeze'], ['/api/intake/draw', { entropy: ENTROPY }], ['/api/intake/publish', { deadline: c.deadline }]]) {
      const r = await roles.city.request('POST', path, json ? { json } : {});
      assert.equal(r.status, 200, `${path}: ${r.text}`);
    }
    c.published = true;
    c.window = null;
    for (const [fam, o, s] of [['famA', 'A', 'X'], ['famB', 'B', 'Y']]) {
      const r = await roles[fam].request('GET', `/api/applications/${c.rec[o]}/result`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.offer?.school?.id, c.school[s], `${o} holds a seat at school ${s}: ${r.text}`);
      const a = await roles[fam].request('POST', `/api/applications/${c.rec[o]}/appeal`, { json: { text: '请求复核。' } });
      assert.equal(a.status, 201, a.text);
      c.appeal[o] = a.json.id;
    }
    c.window = (await ctl.request('GET', '/api/window')).json;
    delete c.window.open;
    await runMatrix('published');
    assert.deepEqual(findings('published', ['unexpectedAllows', 'unexpectedRefusals', 'problems']), []);
  });

  it('after the publication: every state-changing route refuses no or a wrong CSRF token, a foreign or null Origin', async () => {
    assert.ok(c.published, 'the intake is published');
    assert.ok((await runCsrf('published')) > 0);
    assert.deepEqual(findings('published', ['csrfProblems']), []);
  });

  it('the matrix: its size, and unexpected allows: 0', () => {
    const line = (s) => `  ${s}`;
    console.log(
      [
        `rights matrix: ${serverRoutes.length} routes x ${ROLES.length} roles x their objects = ${tally.cells / 2} cells, ` +
          `at 2 states (window open before the freeze; after the publication): ${tally.cells - tally.spared} sent ` +
          `(${tally.spared} allowed cells of destructive routes kept off the real applications)`,
        `  requests: ${tally.refused} expected refused, ${tally.allowed} expected allowed, ${tally.scoped} expected scoped, ` +
          `${tally.csrf} CSRF/Origin probes; ${tally.requests} in all with the look-alike receipts`,
        `unexpected allows: ${tally.unexpectedAllows.length}`,
        ...tally.unexpectedAllows.map(line),
        `unexpected refusals: ${tally.unexpectedRefusals.length}`,
        ...tally.unexpectedRefusals.map(line),
        `other problems: ${tally.problems.length}`,
        ...tally.problems.map(line),
        `CSRF/Origin problems: ${tally.csrfProblems.length}`,
        ...tally.csrfProblems.map(line),
      ].join('\n'),
    );
    assert.deepEqual(tally.unexpectedAllows, []);
    assert.deepEqual(tally.unexpectedRefusals, []);
    assert.deepEqual(tally.problems, []);
    assert.deepEqual(tally.csrfProblems, []);
  });
});
