#!/bin/sh
# test_audit_log.sh - `ruxue audit verify` and `ruxue audit checkpoint` end
# to end, on a store the real server wrote (issue #7, item 8).
#
# Usage: test_audit_log.sh RUXUE_BINARY
#
# 1. `ruxue serve --demo` on a new store: staff sign-ins that succeed and
#    fail; the failures are audited with outcome refused:bad_credentials,
#    and what was typed for an account that does not exist is not kept.
# 2. The chain re-verified by an independent script (python3) from the
#    hash input documented in src/store/rx_store_sqlite.h.
# 3. For one mutation of each kind (an edit, an insertion, a deletion, a
#    reordering), `ruxue audit verify` exits 1 and names the first bad
#    entry; the intact store exits 0.
# 4. `ruxue audit checkpoint` signs the head with the bureau's key (a new
#    file: never replaced); `audit verify --checkpoint --pub` holds on the
#    store, fails (exit 1) on a cut-off tail, and refuses a forged
#    checkpoint (a field changed, another key).
set -u

ruxue=${1:?usage: test_audit_log.sh RUXUE_BINARY}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rx-test-audit-XXXXXX") || exit 1
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
failures=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# expect STATUS PATTERN CMD...: the exit status is STATUS and stdout+stderr match PATTERN (grep -E)
expect() {
    want=$1
    pattern=$2
    shift 2
    checks=$((checks + 1))
    out=$("$@" 2>&1)
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "$*: expected exit $want, got $got: $out"
    elif ! printf '%s\n' "$out" | grep -Eq -- "$pattern"; then
        fail "$*: expected /$pattern/ in: $out"
    fi
}

sql() { # sql DB STATEMENTS: run them with the store's guards dropped (as someone with the file would)
    python3 - "$1" "$2" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.executescript("DROP TRIGGER IF EXISTS audit_keep_update; DROP TRIGGER IF EXISTS audit_keep_delete;" + sys.argv[2])
db.close()
EOF
}

# ------------------------------------------------------ 1. the server writes

db="$tmp/store.db"
"$ruxue" serve --db "$db" --port 0 --demo --demo-password 'audit-test-password-1' \
    --demo-totp JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP \
    --pii-key "$tmp/pii.key" --data "$tmp/data" >"$tmp/serve.out" 2>"$tmp/serve.err" &
server=$!
port=
for _ in $(seq 1 200); do
    port=$(sed -n 's/^ruxue serve: listening on http:\/\/[0-9.]*:\([0-9]*\)\/.*/\1/p' "$tmp/serve.out")
    [ -n "$port" ] && break
    sleep 0.05
done
[ -n "$port" ] || { cat "$tmp/serve.err" >&2; echo "FAIL: the server did not start" >&2; exit 1; }

python3 - "$port" <<'EOF' || fail "the sign-ins did not answer as expected"
import base64, hashlib, hmac, json, struct, sys, time, urllib.request, urllib.error
port = sys.argv[1]
def totp():  # RFC 6238 with the secret of --demo-totp
    key = base64.b32decode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
    mac = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    o = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[o:o + 4])[0] & 0x7fffffff) % 1000000)
def login(user, pw):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/staff/login", method="POST",
                                 data=json.dumps({"username": user, "password": pw,
                                                  "code": totp()}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        return urllib.request.urlopen(req).status
    except urllib.error.HTTPError as e:
        return e.code
# (a code is good once: one sign-in that succeeds, in the middle)
want = [("demo", "wrong-password", 401), ("demo", "audit-test-password-1", 200),
        ("110101201901011234", "x", 401), ("demo", "wrong-again", 401),
        ("nobody-1", "x", 401), ("nobody-2", "x", 401)]
for user, pw, status in want:
    got = login(user, pw)
    if got != status:
        sys.exit(f"{user}: expected {status}, got {got}")
EOF
kill "$server"
wait "$server" 2>/dev/null
server=

checks=$((checks + 1))
python3 - "$db" <<'EOF' || fail "the audit entries of the sign-ins"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("SELECT actor, action, object, pseudonym, outcome FROM audit "
                  "WHERE action = 'staff.login' ORDER BY seq").fetchall()
want = [("staff:demo", "staff.login", "demo", "", "refused:bad_credentials"),
        ("staff:demo", "staff.login", "demo", "", "ok"),
        ("anonymous", "staff.login", "(no such account)", "", "refused:bad_credentials"),
        ("staff:demo", "staff.login", "demo", "", "refused:bad_credentials"),
        ("anonymous", "staff.login", "(no such account)", "", "refused:bad_credentials"),
        ("anonymous", "staff.login", "(no such account)", "", "refused:bad_credentials")]
if rows != want:
    sys.exit(f"expected {want}, got {rows}")
dump = "\n".join(map(str, db.execute("SELECT * FROM audit").fetchall()))
if "110101201901011234" in dump:
    sys.exit("the ID number typed as a user name is in the audit log")
EOF

expect 0 '^audit: [0-9]+ entries, chain intact, head [0-9a-f]{64}$' "$ruxue" audit verify --db "$db"
n=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM audit").fetchone()[0])' "$db")
[ "$n" -ge 7 ] || fail "expected at least 7 entries, found $n"

# ------------------------------------------- 2. re-verified apart from ruxue

checks=$((checks + 1))
python3 - "$db" <<'EOF' || fail "the independent re-verification"
# The hash input of src/store/rx_store_sqlite.h, "The hash of an entry".
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
prev = bytes(32)
n = 0
for seq, at, actor, action, obj, pseudonym, outcome, detail, v, p, h in db.execute(
        "SELECT seq, at, actor, action, object, pseudonym, outcome, detail, v, prev, hash "
        "FROM audit ORDER BY seq"):
    n += 1
    f = [at, actor, action, obj] + ([pseudonym, outcome] if v == 2 else []) + [detail]
    mine = hashlib.sha256(p + f"ruxue-audit-v{v}\n{seq}".encode() +
                          b"".join(b"\n" + x.encode() for x in f)).digest()
    if seq != n or p != prev or mine != h:
        sys.exit(f"entry {seq}: does not verify")
    prev = h
print(f"re-verified {n} entries")
EOF

# --------------------------------------------- 3. one mutation of each kind

last=$n
mid=$((n / 2))
cp "$db" "$tmp/edit.db"
sql "$tmp/edit.db" "UPDATE audit SET outcome = 'refused:x' WHERE seq = 1"
expect 1 "^audit: chain broken at entry 1: hash does not match its content \(edited\)$" \
    "$ruxue" audit verify --db "$tmp/edit.db"

# an insertion: a forged entry with a correct hash before entry $mid, the later ones renumbered
cp "$db" "$tmp/insert.db"
python3 - "$tmp/insert.db" "$mid" <<'EOF' || fail "the insertion"
import hashlib, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
k = int(sys.argv[2])
db.executescript("DROP TRIGGER audit_keep_update; DROP TRIGGER audit_keep_delete;")
prev = db.execute("SELECT hash FROM audit WHERE seq = ?", (k - 1,)).fetchone()[0]
f = ["2027-05-01T08:00:00Z", "staff:mallory", "pii.reveal", "RX-2027G1-99999999",
     "P0123456789abcdef", "ok", ""]
h = hashlib.sha256(prev + f"ruxue-audit-v2\n{k}".encode() +
                   b"".join(b"\n" + x.encode() for x in f)).digest()
db.execute("UPDATE audit SET seq = -(seq + 1) WHERE seq >= ?", (k,))
db.execute("UPDATE audit SET seq = -seq WHERE seq < 0")
db.execute("INSERT INTO audit(seq, at, actor, action, object, pseudonym, outcome, detail, prev, "
           "hash, v) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 2)", (k, *f, prev, h))
EOF
expect 1 "^audit: chain broken at entry $((mid + 1)): hash does not match its content \(edited\)$" \
    "$ruxue" audit verify --db "$tmp/insert.db"

cp "$db" "$tmp/delete.db"
sql "$tmp/delete.db" "DELETE FROM audit WHERE seq = $mid"
expect 1 "^audit: chain broken at entry $mid: the entry is missing \(deleted\)$" \
    "$ruxue" audit verify --db "$tmp/delete.db"

cp "$db" "$tmp/swap.db"
sql "$tmp/swap.db" "CREATE TEMP TABLE t AS SELECT * FROM audit WHERE seq IN (2, 3);
  UPDATE audit SET (at, actor, action, object, detail, prev, hash, pseudonym, outcome, v) =
  (SELECT at, actor, action, object, detail, prev, hash, pseudonym, outcome, v FROM t WHERE t.seq = 5 - audit.seq)
  WHERE seq IN (2, 3)"
expect 1 "^audit: chain broken at entry 2: hash does not match its content \(edited\)$" \
    "$ruxue" audit verify --db "$tmp/swap.db"

# the store itself refuses to change or delete an entry
checks=$((checks + 1))
python3 - "$db" <<'EOF' || fail "the store's guards"
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
for s in ("DELETE FROM audit WHERE seq = 1", "UPDATE audit SET detail = '' WHERE seq = 1"):
    try:
        db.execute(s)
        sys.exit(f"{s}: allowed")
    except sqlite3.DatabaseError as e:
        if "append-only" not in str(e):
            sys.exit(f"{s}: {e}")
EOF

# ------------------------------------------------------------ 4. checkpoints

"$ruxue" keys new --out "$tmp/bureau" >/dev/null || fail "keys new"
"$ruxue" keys new --out "$tmp/other" >/dev/null || fail "keys new (other)"
expect 0 "^audit: checkpoint of entry $last \(head [0-9a-f]{64}\) of store [0-9a-f]{32} written to $tmp/cp.txt$" \
    "$ruxue" audit checkpoint --db "$db" --key "$tmp/bureau.key" --out "$tmp/cp.txt"
expect 1 "exists" "$ruxue" audit checkpoint --db "$db" --key "$tmp/bureau.key" --out "$tmp/cp.txt"
checks=$((checks + 1))
head -1 "$tmp/cp.txt" | grep -qx 'ruxue-audit-checkpoint-v1' || fail "the checkpoint's first line"
expect 0 "^audit: checkpoint $tmp/cp.txt \(entry $last, made [0-9TZ:-]+\) holds" \
    "$ruxue" audit verify --db "$db" --checkpoint "$tmp/cp.txt" --pub "$tmp/bureau.pub"
expect 0 "signed by key [0-9a-f]{64}: compare it" \
    "$ruxue" audit verify --db "$db" --checkpoint "$tmp/cp.txt"

# a cut-off tail: the chain alone is intact, the checkpoint is not there
cp "$db" "$tmp/cut.db"
sql "$tmp/cut.db" "DELETE FROM audit WHERE seq > $((last - 2))"
expect 0 "chain intact" "$ruxue" audit verify --db "$tmp/cut.db"
expect 1 "the log ends at entry $((last - 2)) but the checkpoint holds entry $last: entries $((last - 1)) to $last were cut off" \
    "$ruxue" audit verify --db "$tmp/cut.db" --checkpoint "$tmp/cp.txt" --pub "$tmp/bureau.pub"

# forged checkpoints: a field changed after signing; signed with another key
sed "s/^seq=.*/seq=$((last - 2))/" "$tmp/cp.txt" >"$tmp/forged.txt"
expect 1 "^audit: checkpoint $tmp/forged.txt is not valid: .*signature does not match.*forged" \
    "$ruxue" audit verify --db "$tmp/cut.db" --checkpoint "$tmp/forged.txt" --pub "$tmp/bureau.pub"
"$ruxue" audit checkpoint --db "$tmp/cut.db" --key "$tmp/other.key" --out "$tmp/theirs.txt" >/dev/null ||
    fail "checkpoint with another key"
expect 1 "not the bureau's key.*forged" \
    "$ruxue" audit verify --db "$tmp/cut.db" --checkpoint "$tmp/theirs.txt" --pub "$tmp/bureau.pub"
# a broken chain is not signed
expect 1 "broken at entry $mid" \
    "$ruxue" audit checkpoint --db "$tmp/delete.db" --key "$tmp/bureau.key" --out "$tmp/no.txt"
checks=$((checks + 1))
[ ! -e "$tmp/no.txt" ] || fail "a checkpoint of a broken chain was written"
# usage
expect 2 "expected --key FILE and --out FILE" "$ruxue" audit checkpoint --db "$db"
expect 2 "give --head or --checkpoint, not both" \
    "$ruxue" audit verify --db "$db" --checkpoint "$tmp/cp.txt" --head "$(printf '0%.0s' $(seq 64))"

if [ "$failures" -ne 0 ]; then
    echo "$failures of $checks checks failed" >&2
    exit 1
fi
echo "ok: $checks checks"
