// overload.test.mjs - admission control and slow clients (issue #7, item 3).
//
//   RUXUE=build/ruxue node --test tests/e2e/overload.test.mjs
//
// Functional, not timed (the figures are in `make bench`,
// tools/bench_overload.sh): with a tiny limit on the changes in progress
// (--max-writes 2, no wait), submissions sent at once beyond it are
// answered 503 `overloaded` with Retry-After and leave nothing in the store,
// every 201 is in the store, and GET /api/health and the static pages still
// answer while the writes are full.  With --conn-timeout 1, connections that
// send half a request (headers or body) and then nothing are closed by the
// server; and one client address gets no more connections than
// --max-conns-per-ip while another still gets in.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Client, familySignIn, randomChildId, staffLogin, startServer } from './harness.mjs';

const AT_ONCE = 24; // submissions sent at the same moment, each on its own connection
const ROUNDS = 5; // at most, until one round sees a 503 (a 2-place limit: the first does)

const body = (id) => ({ id_number: id, claims: {}, private_choices: [], catchment_order: [], submit: true });

describe('overload: writes beyond --max-writes are refused, nothing stored', () => {
  let srv;
  let web;
  before(async () => {
    web = mkdtempSync(join(tmpdir(), 'ruxue-web-'));
    writeFileSync(join(web, 'index.html'), '<!doctype html><title>ruxue</title>\n');
    srv = await startServer({
      extraArgs: ['--max-writes', '2', '--max-reads', '2', '--queue-wait-ms', '0', '--web', web],
      label: 'overload',
    });
  });
  after(async () => {
    await srv?.cleanup();
    rmSync(web, { recursive: true, force: true });
  });

  it('answers the excess 503 with Retry-After, stores every 201 and nothing else; health and static pages answer', async () => {
    const staff = await staffLogin(srv);
    const fam = await familySignIn(srv, staff);
    const created = new Map(); // receipt -> id sent
    const refusedIds = [];
    let shed = 0;
    for (let round = 0; round < ROUNDS && shed === 0; round++) {
      const ids = Array.from({ length: AT_ONCE }, () => randomChildId());
      // while the submissions are in flight: the health check and a static page
      const side = [
        new Client(srv).request('GET', '/api/health'),
        new Client(srv).request('GET', '/index.html'),
      ];
      const answers = await Promise.all(
        ids.map((id, i) =>
          fam.request('POST', '/api/applications', {
            json: body(id),
            headers: { 'Idempotency-Key': `overload-${round}-${i}-${id}` },
          }),
        ),
      );
      const [health, page] = await Promise.all(side);
      assert.equal(health.status, 200, `GET /api/health during the surge: ${health.status} ${health.text}`);
      assert.equal(page.status, 200, `GET /index.html during the surge: ${page.status}`);
      answers.forEach((r, i) => {
        if (r.status === 201) {
          created.set(r.json.receipt, ids[i]);
        } else {
          assert.equal(r.status, 503, `a submission: expected 201 or 503, found ${r.status} ${r.text}`);
          assert.equal(r.json?.error?.code, 'overloaded', r.text);
          const ra = r.headers.get('retry-after');
          assert.ok(ra && /^\d+$/.test(ra) && Number(ra) >= 1, `Retry-After: expected seconds, found ${ra}`);
          refusedIds.push(ids[i]);
          shed++;
        }
      });
    }
    assert.ok(shed > 0, `${ROUNDS} rounds of ${AT_ONCE} submissions at once past a limit of 2: no 503`);
    assert.ok(created.size > 0, 'no submission was accepted');

    // the family's list: every 201, and none of the refused children
    const list = await fam.request('GET', '/api/applications');
    assert.equal(list.status, 200, list.text);
    const receipts = new Set(list.json.applications.map((a) => a.receipt));
    for (const receipt of created.keys()) assert.ok(receipts.has(receipt), `201 receipt ${receipt} is not stored`);
    assert.equal(list.json.applications.length, created.size,
      `stored ${list.json.applications.length} applications for ${created.size} 201s: a 503 left one behind`);

    // a refused child can be submitted again (one at a time: a place is free)
    const again = await fam.request('POST', '/api/applications', {
      json: body(refusedIds[0]),
      headers: { 'Idempotency-Key': `overload-again-${refusedIds[0]}` },
    });
    assert.equal(again.status, 201, `the refused child sent again alone: ${again.status} ${again.text}`);
  });
});

// open a raw connection from a local address; resolves once connected
function connect(port, localAddress = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port, localAddress });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

// resolves with ms until the server ends the connection (end, close or reset)
function closedWithin(sock, ms) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const timer = setTimeout(() => resolve(null), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(Date.now() - t0);
    };
    sock.on('data', () => {}); // an answer (if any) does not keep it open
    sock.once('end', done);
    sock.once('close', done);
    sock.once('error', done);
  });
}

describe('slow clients: the connection timeout', () => {
  let srv;
  before(async () => {
    srv = await startServer({ extraArgs: ['--conn-timeout', '1', '--max-conns-per-ip', '4'], label: 'slow' });
  });
  after(async () => {
    await srv?.cleanup();
  });

  it('closes connections that stop half-way through their headers or body', async () => {
    // from 127.0.0.2-127.0.0.4: the per-address limit of 4 is not what closes them
    const socks = [];
    for (let i = 0; i < 3; i++) {
      const s = await connect(srv.port, `127.0.0.${2 + i}`);
      if (i === 2) {
        s.write('POST /api/applications HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id');
      } else {
        s.write('GET /api/window HTTP/1.1\r\nHost: x\r\nX-Slow: ');
      }
      socks.push(s);
    }
    const closed = await Promise.all(socks.map((s) => closedWithin(s, 8000)));
    closed.forEach((ms, i) => assert.ok(ms !== null, `slow connection ${i} still open after 8 s with --conn-timeout 1`));
    const health = await new Client(srv).request('GET', '/api/health');
    assert.equal(health.status, 200);
  });

});

describe('slow clients: the per-address connection limit', () => {
  let srv;
  before(async () => {
    // the default timeout (15 s): what closes the fifth connection is the limit
    srv = await startServer({ extraArgs: ['--max-conns-per-ip', '4'], label: 'per-ip' });
  });
  after(async () => {
    await srv?.cleanup();
  });

  it('refuses a fifth connection from one address, not from another', async () => {
    const held = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = await connect(srv.port, '127.0.0.9');
        s.write('GET /api/health HTTP/1.1\r\nHost: x\r\n'); // half a request: held open
        held.push(s);
      }
      // the fifth from the same address: accepted by the kernel, closed by the server at once
      const fifth = await connect(srv.port, '127.0.0.9');
      held.push(fifth);
      const ms = await closedWithin(fifth, 5000); // the timeout is 15 s
      assert.ok(ms !== null, 'a fifth connection from 127.0.0.9 with --max-conns-per-ip 4 was kept open');
      for (const s of held.slice(0, 4)) assert.ok(!s.destroyed && s.readable, 'one of the first four was closed');
      // another address still gets in
      const other = await connect(srv.port, '127.0.0.10');
      held.push(other);
      const answer = await new Promise((resolve) => {
        let text = '';
        other.on('data', (d) => {
          text += d;
          if (text.includes('\r\n\r\n')) resolve(text);
        });
        other.write('GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n');
      });
      assert.match(answer, /^HTTP\/1\.1 200 /);
    } finally {
      for (const s of held) s.destroy();
    }
  });
});
