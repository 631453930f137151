#!/bin/sh
# tools/bench_overload.sh RUXUE [SECONDS] - overload and slow clients.
#
# Starts `ruxue serve` with its default limits (--max-writes 1024,
# --max-reads 256, --queue-wait-ms 20, --max-conns 8192,
# --max-conns-per-ip 1024, --conn-timeout 15) on a fresh store in a
# temporary directory, with FAMILIES families signed in (sessions written
# into the store before it starts, as tools/bench_serve.sh does), and
# drives it with bench/loadgen (one thread, epoll; latency per answer
# class, its own CPU printed).
#
#  1. surge: 1,000 connections submitting applications in a closed loop
#     for 10 s (as tools/bench_serve.sh): the capacity C, in 201s a second.
#  2. overload: an open loop offering 2C, then 4C, submissions a second
#     (each for a new child) over OVER_CONNS connections (default 3000),
#     SECONDS each (default 20; 4C for half of it), from 127.0.0.1-127.0.0.8
#     (the default per-address limit is 1,024 connections).  The excess must be
#     answered 503 with Retry-After, fast; the server's RSS is sampled every
#     0.2 s (peak_rss_mib) and compared across the loads.
#  3. every 201 any client got is an application in the store, and no
#     503 left one: stored = created (lost and extra count the difference).
#  4. slowloris: 500 connections from 127.0.0.1 reading (GET /api/me with a
#     family's session, closed loop) for 10 s alone (base), 10 s with 1,000
#     slow clients (bench/slowloris.py: from 127.0.0.2-127.0.0.101, half
#     never finishing their headers, half a body, a byte every 3 s), then
#     10 s alone again; base_per_s is the mean of the two runs alone.
#
# Prints lines a script can read:
#   surge conns=1000 ok_per_s=C p99_ok_ms=... shed_per_s=... peak_rss_mib=... loadgen_cpu_pct=...
#   overload offered=2x offered_per_s=... conns=N ok_per_s=... shed_per_s=... p99_shed_ms=... p99_ok_ms=... peak_rss_mib=... errors=... late=... loadgen_cpu_pct=... server_cpu_pct=...
#   overload offered=4x ...
#   stored created=... stored=... lost=... extra=...
#   slowloris slow_clients=1000 slow_open=... base_per_s=... with_slow_per_s=... ratio=... p99_base_ms=... p99_slow_ms=... slow_closed=... errors=...
set -eu
RUXUE=${1:?usage: tools/bench_overload.sh RUXUE [SECONDS]}
SECS=${2:-20}
FAMILIES=${FAMILIES:-2000}
OVER_CONNS=${OVER_CONNS:-3000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$(dirname "$RUXUE")" && pwd)
LOADGEN=${LOADGEN:-$BIN/bench/loadgen}
DIR=$(mktemp -d)
PID=
SAMPLER=
SLOW=
cleanup() {
    [ -n "$SLOW" ] && kill "$SLOW" 2>/dev/null || true
    [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
    [ -n "$PID" ] && kill "$PID" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
ulimit -n 65536 2>/dev/null || ulimit -n 16384 2>/dev/null || true
[ -x "$LOADGEN" ] || { echo "bench_overload: $LOADGEN missing (ninja -C build)" >&2; exit 1; }

start() {
    rm -f "$DIR/serve.out"
    "$RUXUE" serve --db "$DIR/ruxue.db" --pii-key "$DIR/pii.key" --port 0 --web "$ROOT/web" \
        --demo "$@" >"$DIR/serve.out" 2>&1 &
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
# the server's RSS (KiB) every 0.2 s into FILE, until stopped
sample_rss() {
    (while kill -0 "$PID" 2>/dev/null; do
        awk '/^VmRSS:/ {print $2}' "/proc/$PID/status" 2>/dev/null
        sleep 0.2
    done) >"$1" &
    SAMPLER=$!
}
end_sample() {
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=
    sort -n "$1" | tail -1 | awk '{printf "%.0f", $1 / 1024}'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
# field NAME LINE
field() { echo "$2" | sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
loadgen() {
    out=$("$LOADGEN" --port "$PORT" "$@")
    echo "$out" | grep '^LOADGEN ' || { echo "bench_overload: loadgen: $out" >&2; exit 1; }
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
HZ=$(getconf CLK_TCK)
created_all=0

# 1. the surge: the capacity C
sample_rss "$DIR/rss.surge"
line=$(loadgen --conns 1000 --seconds 10 --submit --sessions "$DIR/sessions.txt" --id-base 0)
rss=$(end_sample "$DIR/rss.surge")
C=$(field ok_per_s "$line")
created_all=$((created_all + $(field created "$line")))
echo "surge conns=1000 ok_per_s=$C p99_ok_ms=$(field p99_ok_ms "$line") shed_per_s=$(field shed_per_s "$line") p99_shed_ms=$(field p99_shed_ms "$line") peak_rss_mib=$rss errors=$(field errors "$line") loadgen_cpu_pct=$(field cpu_pct "$line")"

# 2. overload: 2C and 4C offered, open loop
base=1
for x in 2 4; do
    secs=$SECS
    [ "$x" = 4 ] && secs=$((SECS / 2))
    rate=$((C * x))
    sample_rss "$DIR/rss.$x"
    t0=$(cpu_ticks)
    line=$(loadgen --conns "$OVER_CONNS" --src 127.0.0.1 --src-spread 8 --seconds "$secs" --rate "$rate" --submit \
        --sessions "$DIR/sessions.txt" --id-base "$base")
    t1=$(cpu_ticks)
    rss=$(end_sample "$DIR/rss.$x")
    base=$((base + 1))
    created_all=$((created_all + $(field created "$line")))
    errors=$(( $(field errors "$line") + $(field other "$line") + $(field shed_no_retry_after "$line") ))
    scpu=$(awk "BEGIN {printf \"%.0f\", 100 * ($t1 - $t0) / $HZ / $secs}")
    echo "overload offered=${x}x offered_per_s=$rate conns=$OVER_CONNS seconds=$secs ok_per_s=$(field ok_per_s "$line") shed_per_s=$(field shed_per_s "$line") p99_shed_ms=$(field p99_shed_ms "$line") p50_shed_ms=$(field p50_shed_ms "$line") p99_ok_ms=$(field p99_ok_ms "$line") peak_rss_mib=$rss errors=$errors late=$(field late "$line") unanswered=$(field unanswered "$line") loadgen_cpu_pct=$(field cpu_pct "$line") server_cpu_pct=$scpu"
done

# 3. the store against the clients' 201s (the server stopped: all of it on disk)
stop
stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from applications').fetchone()[0])" "$DIR/ruxue.db")
lost=$((created_all > stored ? created_all - stored : 0))
extra=$((stored > created_all ? stored - created_all : 0))
echo "stored created=$created_all stored=$stored lost=$lost extra=$extra"

# 4. slowloris
start
read1=$(loadgen --conns 500 --seconds 10 --path /api/me --sessions "$DIR/sessions.txt")
python3 "$ROOT/bench/slowloris.py" "$PORT" 1000 40 100 3 >"$DIR/slow.out" 2>&1 &
SLOW=$!
i=0
until grep -q 'SLOWLORIS ready' "$DIR/slow.out" 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -gt 300 ] && { cat "$DIR/slow.out" >&2; exit 1; }
    sleep 0.1
done
sleep 2
slow=$(loadgen --conns 500 --seconds 10 --path /api/me --sessions "$DIR/sessions.txt")
kill -TERM "$SLOW" 2>/dev/null || true
wait "$SLOW" 2>/dev/null || true
SLOW=
read2=$(loadgen --conns 500 --seconds 10 --path /api/me --sessions "$DIR/sessions.txt")
stop
b1=$(field ok_per_s "$read1")
b2=$(field ok_per_s "$read2")
w=$(field ok_per_s "$slow")
opened=$(sed -n 's/^SLOWLORIS ready open=\([0-9]*\).*/\1/p' "$DIR/slow.out")
sl=$(grep '^SLOWLORIS clients' "$DIR/slow.out" || true)
errs=$(( $(field errors "$read1") + $(field errors "$slow") + $(field errors "$read2") + $(field other "$slow") ))
echo "slowloris slow_clients=1000 slow_open=$opened base_per_s=$(awk "BEGIN {printf \"%.0f\", ($b1 + $b2) / 2}") base1_per_s=$b1 base2_per_s=$b2 with_slow_per_s=$w ratio=$(awk "BEGIN {printf \"%.3f\", 2 * $w / ($b1 + $b2)}") p99_base_ms=$(field p99_ok_ms "$read1") p99_slow_ms=$(field p99_ok_ms "$slow") shed_with_slow=$(field shed "$slow") slow_open_end=$(field open "$sl") slow_closed=$(field closed_by_server "$sl") errors=$errs loadgen_cpu_pct=$(field cpu_pct "$slow")"
