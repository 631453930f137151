#!/bin/sh
# tools/bench_serve.sh RUXUE [CONNS] [SECONDS] - the opening-day surge, then
# results day.
#
# Starts `ruxue serve` on a fresh store in a temporary directory, signs in
# FAMILIES families (their sessions are written straight into the store
# before the server starts, as the sign-in flow's rate limits would make
# that take an hour), then wrk keeps CONNS connections (default 1000)
# submitting applications for SECONDS seconds (default 30), each for a new
# child (bench/surge.lua).  Then the same server answers a static page with
# the same connections, the peer the submissions are measured against.
# Last, the server is stopped and the store counted: every 201 a client got
# must be an application in the store ("lost" counts the ones that are not).
#
# Then results day, on a second fresh store: `ruxue demo` writes a district
# of APPS children (default 20000; schools = APPS / 200), the server is
# started on it with APPS families signed in the same way, and
# bench/results_day.py runs the whole intake through the API: the bureau
# uploads the records (made from the demo's children), commits to its
# lottery secret, every family applies for its child (claims, private
# choices, catchment order), the window closes, freeze, draw, the official
# run, publish.  Then wrk keeps CONNS connections reading results for
# SECONDS seconds (RESULTS_SECS), every request a family reading its own
# result with its own session (bench/results.lua); an answer that is not
# 200 with a published result is an error.
#
# Prints two lines a script can read:
#   surge conns=C seconds=S submissions_per_s=X p50_ms=A p99_ms=B errors=E lost=L static_rps=Y ratio=R
#   results conns=C seconds=S lookups_per_s=X p50_ms=A p99_ms=B errors=E applications=N
# and on stderr the set-up's own figures (INTAKE ...: the applications'
# rate through 64 client connections, the freeze, run and publish times)
# and the mean size of an answer (result_bytes_mean).  RESULTS=0 skips
# results day; APPS and RESULTS_SECS change its size and length.
set -eu
RUXUE=${1:?usage: tools/bench_serve.sh RUXUE [CONNS] [SECONDS]}
CONNS=${2:-1000}
SECS=${3:-30}
FAMILIES=${FAMILIES:-2000}
APPS=${APPS:-20000}
RESULTS_SECS=${RESULTS_SECS:-$SECS}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

# start [DB [ARGS...]]: the server on DB (default the surge's store)
start() {
    db=${1:-$DIR/ruxue.db}
    [ $# -gt 0 ] && shift
    rm -f "$DIR/serve.out"
    "$RUXUE" serve --db "$db" --pii-key "$DIR/pii.key" --port 0 --web "$ROOT/web" --demo \
        --threads "${THREADS:-16}" "$@" >"$DIR/serve.out" 2>&1 &
    PID=$!
    i=0
    until grep -q 'listening on' "$DIR/serve.out" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt 100 ] && { cat "$DIR/serve.out" >&2; exit 1; }
        sleep 0.1
    done
    PORT=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$DIR/serve.out" | head -1)
}
stop() {
    kill -TERM "$PID"
    wait "$PID" 2>/dev/null || true
    PID=
}

# a store with its schema, then the families' sessions
start
stop
python3 - "$DIR/ruxue.db" "$FAMILIES" "$DIR/sessions.txt" <<'PY'
import hashlib, secrets, sqlite3, sys, time
db, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
con = sqlite3.connect(db)
now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
with open(out, "w") as f, con:
    for i in range(n):
        cur = con.execute("INSERT INTO families(phone, created_at) VALUES (?, ?)",
                          ("139%08d" % i, now))
        tok, csrf = secrets.token_hex(32), secrets.token_hex(32)
        con.execute("INSERT INTO sessions(token_hash, kind, subject, csrf, expires_at) "
                    "VALUES (?, 1, ?, ?, ?)",
                    (hashlib.sha256(tok.encode()).digest(), cur.lastrowid, csrf,
                     int(time.time()) + 86400))
        f.write("%s %s\n" % (tok, csrf))
PY
start
THREADS_WRK=${WRK_THREADS:-2}
SESSIONS="$DIR/sessions.txt" wrk -t "$THREADS_WRK" -c "$CONNS" -d "${SECS}s" --timeout 10s \
    -s "$ROOT/bench/surge.lua" "http://127.0.0.1:$PORT/api/applications" >"$DIR/surge.out" 2>&1 || true
wrk -t "$THREADS_WRK" -c "$CONNS" -d "$((SECS / 3 + 1))s" --timeout 10s \
    "http://127.0.0.1:$PORT/index.html" >"$DIR/static.out" 2>&1 || true
stop

line=$(grep '^SURGE ' "$DIR/surge.out" || true)
if [ -z "$line" ]; then
    cat "$DIR/surge.out" >&2
    exit 1
fi
created=$(echo "$line" | sed 's/.*created=\([0-9]*\).*/\1/')
errors=$(echo "$line" | sed 's/.* errors=\([0-9]*\).*/\1/')
rate=$(echo "$line" | sed 's/.* rate=\([0-9]*\).*/\1/')
p50=$(echo "$line" | sed 's/.* p50_ms=\([0-9.]*\).*/\1/')
p99=$(echo "$line" | sed 's/.* p99_ms=\([0-9.]*\).*/\1/')
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from applications').fetchone()[0])" "$DIR/ruxue.db")
lost=$((created > stored ? created - stored : 0))
static=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$DIR/static.out" | cut -d. -f1)
ratio=$(awk "BEGIN {printf \"%.2f\", ${rate:-0} / (${static:-0} + 0.000001)}")
grep -E 'surge: status' "$DIR/surge.out" | head -3 >&2 || true
echo "surge conns=$CONNS seconds=$SECS submissions_per_s=$rate p50_ms=$p50 p99_ms=$p99 errors=$errors lost=$lost static_rps=${static:-0} ratio=$ratio"

[ "${RESULTS:-1}" = 0 ] && exit 0

# results day: a district, its families signed in, the intake through the API
CITY="$DIR/city"
"$RUXUE" demo --out "$CITY" --students "$APPS" --schools "$((APPS / 200))" --seed 2027 >/dev/null
PW=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
TOTP=$(python3 -c 'import base64, secrets; print(base64.b32encode(secrets.token_bytes(20)).decode())')
start "$DIR/results.db" --demo-password "$PW" --demo-totp "$TOTP"
stop
python3 "$ROOT/bench/results_day.py" families "$DIR/results.db" "$APPS" "$DIR/families.txt"
start "$DIR/results.db" --demo-password "$PW" --demo-totp "$TOTP" --district "$CITY"
python3 "$ROOT/bench/results_day.py" intake "$PORT" "$PW" "$TOTP" "$CITY" "$DIR/families.txt" \
    "$DIR/pairs.txt" >"$DIR/intake.out"
PAIRS="$DIR/pairs.txt" wrk -t "$THREADS_WRK" -c "$CONNS" -d "${RESULTS_SECS}s" --timeout 10s \
    -s "$ROOT/bench/results.lua" "http://127.0.0.1:$PORT/" -- "$THREADS_WRK" \
    >"$DIR/results.out" 2>&1 || true
stop

line=$(grep '^RESULTS ' "$DIR/results.out" || true)
if [ -z "$line" ]; then
    cat "$DIR/results.out" >&2
    exit 1
fi
field() { echo "$line" | sed "s/.* $1=\([0-9.]*\).*/\1/"; }
apps=$(sed -n 's/^INTAKE applications=\([0-9]*\).*/\1/p' "$DIR/intake.out")
grep -E 'results: status' "$DIR/results.out" | head -3 >&2 || true
echo "$(cat "$DIR/intake.out") result_bytes_mean=$(field bytes)" >&2
echo "results conns=$CONNS seconds=$RESULTS_SECS lookups_per_s=$(field rate) p50_ms=$(field p50_ms) p99_ms=$(field p99_ms) errors=$(field errors) applications=${apps:-0}"
