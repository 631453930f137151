#!/usr/bin/env python3
"""bench/results_day.py - the set-up of the results-day bench (tools/bench_serve.sh).

Two steps, standard library only:

  results_day.py families DB N OUT
      Before the server starts: N families, each signed in (a family row
      and a session written straight into the store, as the surge does:
      the sign-in flow's rate limits would make N sign-ins take hours).
      OUT gets one line per family: "family_id token csrf".

  results_day.py intake PORT PASSWORD TOTP CITY FAMILIES PAIRS
      Against the running server (started with --demo --demo-password
      PASSWORD --demo-totp TOTP --district CITY): the whole intake through
      the API, as the bureau and families do it (the bureau signs in with
      the current code of the TOTP secret, RFC 6238).
        - The bureau uploads records made from CITY/students.csv (the
          children of `ruxue demo`): hukou.csv, property.csv, permits.csv,
          insurance.csv, each only when the policy's form asks for it.
        - The bureau commits to its lottery secret.
        - Every family applies for its one child (the child of the same
          line of students.csv): the child's ID number (a valid one with
          the child's birth date), one guardian, the claims students.csv
          gives (residence, hukou, property certificate, permit, insurance),
          the private choices and the catchment order, submitted.  A claim
          the records confirm is verified at once; the others (a rented
          home without a permit, ...) go to manual review and stay
          unverified: those children are placed by the overflow round or
          left unplaced with a reason, as on a real results day.
        - The window closes; freeze; draw; the official run; publish
          (offers open for a day).
        - One family reads its result, to check that the lookup works.
      PAIRS gets one line per family that has a receipt: "token receipt".
      Prints one line:
        INTAKE applications=N submitted=K failed=F apply_s=.. apply_per_s=..
               freeze_s=.. run_s=.. publish_s=..
      and the run's placement counts on stderr.
"""
import base64
import csv
import datetime
import hashlib
import hmac
import http.client
import json
import secrets
import sqlite3
import sys
import threading
import time

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CHECKS = "10X98765432"
REGIONS = ["510107", "510104", "510105", "510106", "510108", "510112", "510113", "510114",
           "510115", "510116"]
APPLY_CONNS = 64  # client connections submitting the applications


def id_number(d17):
    return d17 + CHECKS[sum(int(c) * w for c, w in zip(d17, WEIGHTS)) % 11]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def families(db, n, out):
    con = sqlite3.connect(db)
    now = iso(time.time())
    with open(out, "w") as f, con:
        for i in range(n):
            cur = con.execute("INSERT INTO families(phone, created_at) VALUES (?, ?)",
                              ("137%08d" % i, now))
            tok, csrf = secrets.token_hex(32), secrets.token_hex(32)
            con.execute("INSERT INTO sessions(token_hash, kind, subject, csrf, expires_at) "
                        "VALUES (?, 1, ?, ?, ?)",
                        (hashlib.sha256(tok.encode()).digest(), cur.lastrowid, csrf,
                         int(time.time()) + 86400))
            f.write("%d %s %s\n" % (cur.lastrowid, tok, csrf))


class Api:
    """One keep-alive connection; a session cookie and CSRF token when signed in."""

    def __init__(self, port, token=None, csrf=None):
        self.port, self.token, self.csrf = port, token, csrf
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method, path, body=None, raw=None, headers=None):
        h = dict(headers or {})
        if self.token:
            h["Cookie"] = "rx_session=" + self.token
        if self.csrf and method != "GET":
            h["X-CSRF-Token"] = self.csrf
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            h["Content-Type"] = "application/json"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                res = self.conn.getresponse()
                text = res.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                if attempt:
                    raise
        for k, v in res.getheaders():
            if k.lower() == "set-cookie" and v.startswith("rx_session="):
                self.token = v.split(";")[0].split("=", 1)[1]
        try:
            j = json.loads(text) if text else None
        except ValueError:
            j = None
        return res.status, j, text

    def must(self, method, path, body=None, raw=None, ok=(200,)):
        st, j, text = self.call(method, path, body, raw)
        if st not in ok:
            sys.exit("results_day: %s %s: %d %s" % (method, path, st, text[:400].decode("utf-8", "replace")))
        return j


def children(city, n):
    """Applications and records for the first n children of students.csv."""
    with open(city + "/students.csv", encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) < n:
        sys.exit("results_day: %s/students.csv has %d children, %d families" % (city, len(rows), n))
    used = {}
    apps = []
    rec = {"hukou.csv": ["id_number,unit,since"],
           "property.csv": ["certificate,unit,owner_id_number"],
           "permits.csv": ["id_number,unit,valid_until"],
           "insurance.csv": ["id_number,months"]}
    g0 = datetime.date(1984, 1, 1)
    today = time.strftime("%Y-%m-%d", time.gmtime())
    for i, r in enumerate(rows[:n]):
        birth = r["birth_date"].replace("-", "")
        k = used.get(birth, 0)
        used[birth] = k + 1
        child = id_number("%s%s%03d" % (REGIONS[k // 1000], birth, k % 1000))
        gd = g0 + datetime.timedelta(days=i // 1000)
        guardian = id_number("510107%s%03d" % (gd.strftime("%Y%m%d"), i % 1000))
        claims = {}
        if r["residence_unit"]:
            claims["residence_unit"] = r["residence_unit"]
        if r["hukou_unit"]:
            claims["hukou"] = True
            # a registration on or after the birth, and not in the future
            since = max(min(r["hukou_since"] or today, today), r["birth_date"])
            rec["hukou.csv"].append("%s,%s,%s" % (child, r["hukou_unit"], since))
        if r["property_unit"]:
            cert = "川(2019)成都市不动产权第%07d号" % (i + 1)
            claims["property_certificate"] = cert
            rec["property.csv"].append("%s,%s,%s" % (cert, r["property_unit"], guardian))
        if r["residence_permit"] == "yes" and r["residence_unit"]:
            claims["permit"] = 1
            rec["permits.csv"].append("%s,%s,2030-12-31" % (guardian, r["residence_unit"]))
        months = int(r["insurance_months"] or 0)
        if months > 0:
            claims["insurance"] = 1
            rec["insurance.csv"].append("%s,%d" % (guardian, months))
        apps.append({
            "id_number": child, "guardians": [guardian], "child_name": "学生%05d" % (i + 1),
            "claims": claims,
            "private_choices": [s for s in r["private_choices"].split(";") if s],
            "catchment_order": [s for s in r["catchment_order"].split(";") if s],
            "submit": True})
    return apps, rec


def totp(secret_b32, t=None):
    """RFC 6238: SHA-1, 30-second steps, 6 digits."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if t is None else t) // 30)
    h = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha1).digest()
    o = h[19] & 15
    return "%06d" % ((int.from_bytes(h[o:o + 4], "big") & 0x7FFFFFFF) % 1000000)


def intake(port, password, totp_secret, city, fam_file, pairs_out):
    fams = []
    with open(fam_file) as f:
        for line in f:
            fid, tok, csrf = line.split()
            fams.append((tok, csrf))
    n = len(fams)
    staff = Api(port)
    staff.csrf = staff.must("POST", "/api/staff/login", {"username": "demo", "password": password,
                                                         "code": totp(totp_secret)})["csrf"]
    form = staff.must("GET", "/api/form")
    asked = {c["field"] for c in form["claims"]}
    apps, rec = children(city, n)
    drop = {"hukou": "hukou.csv", "property_certificate": "property.csv", "permit": "permits.csv",
            "insurance": "insurance.csv"}
    for claim, fname in drop.items():
        if claim in asked:
            staff.must("PUT", "/api/records/" + fname, raw=("\r\n".join(rec[fname]) + "\r\n").encode())
        else:
            for a in apps:
                a["claims"].pop(claim, None)
    staff.must("POST", "/api/intake/commit")

    # every family applies for its child, APPLY_CONNS at a time
    receipts = [None] * n
    statuses = {}
    lock = threading.Lock()
    nxt = [0]

    def worker():
        api = Api(port)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= n:
                return
            api.token, api.csrf = fams[i]
            st, j, text = api.call("POST", "/api/applications", apps[i],
                                   headers={"Idempotency-Key": "results-%d" % i})
            if st == 503:  # the store asked to retry: the same key again
                time.sleep(1)
                st, j, text = api.call("POST", "/api/applications", apps[i],
                                       headers={"Idempotency-Key": "results-%d" % i})
            with lock:
                statuses[st] = statuses.get(st, 0) + 1
                if st in (200, 201):
                    receipts[i] = j["receipt"]
                elif statuses[st] <= 3:
                    sys.stderr.write("results_day: apply: %d %s\n" % (st, text[:200].decode("utf-8", "replace")))

    t0 = time.time()
    threads = [threading.Thread(target=worker) for _ in range(APPLY_CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    apply_s = time.time() - t0
    submitted = sum(1 for r in receipts if r)

    # the window closes; the ceremony
    now = time.time()
    staff.must("PUT", "/api/window", {"opens": iso(now - 86400), "closes": iso(now + 2)})
    time.sleep(max(0.0, now + 3 - time.time()))
    t0 = time.time()
    fz = staff.must("POST", "/api/intake/freeze")
    freeze_s = time.time() - t0
    staff.must("POST", "/api/intake/draw", {"entropy": "bench %s" % iso(now)})
    t0 = time.time()
    run = staff.must("POST", "/api/intake/run")
    run_s = time.time() - t0
    if not run.get("checks", {}).get("sound"):
        sys.exit("results_day: the official run is not sound: %s" % json.dumps(run.get("checks"))[:400])
    t0 = time.time()
    staff.must("POST", "/api/intake/publish", {"deadline": iso(time.time() + 86400)})
    publish_s = time.time() - t0
    sys.stderr.write("results_day: students=%s ineligible=%s placed=%s unplaced=%s\n" % (
        run.get("students"), run.get("ineligible"), json.dumps(run.get("placed")), run.get("unplaced")))

    # one lookup, to know the bench measures real answers
    i = next(k for k in range(n) if receipts[k])
    fam = Api(port, *fams[i])
    res = fam.must("GET", "/api/applications/%s/result" % receipts[i])
    if res.get("published") is not True or "explanation" not in res:
        sys.exit("results_day: the result is not published: %s" % json.dumps(res)[:400])

    with open(pairs_out, "w") as f:
        for (tok, _), r in zip(fams, receipts):
            if r:
                f.write("%s %s\n" % (tok, r))
    print("INTAKE applications=%d submitted=%d failed=%d apply_s=%.1f apply_per_s=%.0f "
          "freeze_s=%.2f run_s=%.2f publish_s=%.2f" % (
              fz.get("applicants", -1), submitted, n - submitted, apply_s, submitted / apply_s,
              freeze_s, run_s, publish_s))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "families":
        families(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 8 and sys.argv[1] == "intake":
        intake(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7])
    else:
        sys.exit(__doc__)
