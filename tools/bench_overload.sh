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
#     SECONDS each (default 20), from 127.0.0.1-127.0.0.8 (the default
#     per-address limit is 1,024 connections).  The excess must be answered
#     503 with Retry-After, fast.  Each phase (1 and 2) starts the server on
#     a fresh copy of the store with the sessions, and samples its RSS and
#     anonymous RSS every 0.2 s (peaks), to compare across the loads.
#  3. every 201 any client got is an application in the store, and no
#     503 left one: per phase stored = created (lost and extra sum the
#     differences).
#  4. slowloris: 500 connections from 127.0.0.1 reading (GET /api/me with a
#     family's session, closed loop) in five windows of READ_SECS (default
#     8): alone, with 1,000 slow clients (bench/slowloris.py: from
#     127.0.0.2-127.0.0.101, half never finishing their headers, half a
#     body, a byte every 3 s), alone, with, alone.  base_per_s is the mean
#     of the windows alone, with_slow_per_s of those with; windows_per_s
#     lists each (s = with slow clients).
#
# KEEP_LOGS=PREFIX keeps each phase's server log as PREFIX.PHASE.
# SERVE_ARGS adds flags to every `ruxue serve` (e.g. "--conn-timeout 60").
# loadgen sends a request again, once, on a new connection when the server
# closed the one it went out on, idle a second or more before, with no byte of
# an answer (the server's idle timeout, 15 s, racing the send: connections at
# the bottom of loadgen's stack wait that long at 2x), as a browser does:
# counted in resent=, not errors=; the store's count still has to match the 201s.
#
# Prints lines a script can read:
#   surge conns=1000 ok_per_s=C p99_ok_ms=... shed_per_s=... peak_rss_mib=... loadgen_cpu_pct=...
#   overload offered=2x offered_per_s=... conns=N ok_per_s=... shed_per_s=... p99_shed_ms=... p99_ok_ms=... peak_rss_mib=... errors=... resent=... late=... loadgen_cpu_pct=... server_cpu_pct=...
#   overload offered=4x ...
#   stored created=... lost=... extra=...
#   slowloris slow_clients=1000 slow_open=... slow_open_end=... slow_closed=... conns=500 base_per_s=... with_slow_per_s=... ratio=... windows_per_s=... p99_base_ms=... p99_slow_ms=... errors=...
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
        --demo ${SERVE_ARGS:-} "$@" >"$DIR/serve.out" 2>&1 &
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
# the server's RSS and its anonymous part (KiB; the rest is the store's
# file, mapped by the readers) every 0.2 s into FILE, until stopped
sample_rss() {
    (while kill -0 "$PID" 2>/dev/null; do
        awk '/^VmRSS:/ {r = $2} /^RssAnon:/ {a = $2} END {print r, a}' "/proc/$PID/status" 2>/dev/null
        sleep 0.2
    done) >"$1" &
    SAMPLER=$!
}
# "RSS_MiB ANON_MiB": the peaks
end_sample() {
    kill "$SAMPLER" 2>/dev/null || true
    wait "$SAMPLER" 2>/dev/null || true
    SAMPLER=
    awk '$1 > r {r = $1} $2 > a {a = $2} END {printf "%.0f %.0f", r / 1024, a / 1024}' "$1"
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
cp "$DIR/ruxue.db" "$DIR/template.db"
HZ=$(getconf CLK_TCK)
lost_all=0
extra_all=0
created_all=0

# phase NAME: the server on a fresh copy of the store with its sessions (so
# that no phase reads a store the one before it grew), RSS sampled, CPU read
phase_start() {
    rm -f "$DIR/ruxue.db" "$DIR/ruxue.db-wal" "$DIR/ruxue.db-shm"
    cp "$DIR/template.db" "$DIR/ruxue.db"
    start
    sample_rss "$DIR/rss.$1"
    T0=$(cpu_ticks)
}
# phase_end NAME SECS LOADGEN-LINE: RSS, CPU; then the server stopped and its
# store counted against the 201s the client got
phase_end() {
    T1=$(cpu_ticks)
    set -- "$1" "$2" "$3" $(end_sample "$DIR/rss.$1")
    RSS="peak_rss_mib=$4 peak_anon_mib=$5"
    SCPU=$(awk "BEGIN {printf \"%.0f\", 100 * ($T1 - $T0) / $HZ / $2}")
    stop
    cp "$DIR/serve.out" "$DIR/serve.out.$1"
    if [ -n "${KEEP_LOGS:-}" ]; then cp "$DIR/serve.out" "$KEEP_LOGS.$1"; fi
    stored=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from applications').fetchone()[0])" "$DIR/ruxue.db")
    created=$(field created "$3")
    created_all=$((created_all + created))
    lost_all=$((lost_all + (created > stored ? created - stored : 0)))
    extra_all=$((extra_all + (stored > created ? stored - created : 0)))
}

# said PHASE ERRORS LINE (PHASE as phase_end's NAME): with errors, their kinds and what the server said (its
# count of requests ended without a whole answer, libmicrohttpd's messages)
said() {
    [ "$2" -gt 0 ] || return 0
    echo "bench_overload: $1: err_fresh=$(field err_fresh "$3") err_connect=$(field err_connect "$3") err_closed=$(field err_closed "$3") other=$(field other "$3") shed_no_retry_after=$(field shed_no_retry_after "$3"); the server said:" >&2
    grep -v 'listening on\|demo \|personal-data key\|stopped' "$DIR/serve.out.$1" | sort | uniq -c | sort -rn | head -5 >&2 || true
}

# 1. the surge: the capacity C
phase_start surge
line=$(loadgen --conns 1000 --seconds 10 --submit --sessions "$DIR/sessions.txt")
phase_end surge 10 "$line"
C=$(field ok_per_s "$line")
said surge "$(( $(field errors "$line") + $(field other "$line") ))" "$line"
echo "surge conns=1000 ok_per_s=$C p99_ok_ms=$(field p99_ok_ms "$line") shed_per_s=$(field shed_per_s "$line") p99_shed_ms=$(field p99_shed_ms "$line") $RSS errors=$(field errors "$line") loadgen_cpu_pct=$(field cpu_pct "$line") server_cpu_pct=$SCPU"

# 2. overload: 2C and 4C offered, open loop, SECS each
for x in 2 4; do
    rate=$((C * x))
    phase_start "$x"
    line=$(loadgen --conns "$OVER_CONNS" --src 127.0.0.1 --src-spread 8 --seconds "$SECS" \
        --rate "$rate" --submit --sessions "$DIR/sessions.txt")
    phase_end "$x" "$SECS" "$line"
    errors=$(( $(field errors "$line") + $(field other "$line") + $(field shed_no_retry_after "$line") ))
    said "$x" "$errors" "$line"
    echo "overload offered=${x}x offered_per_s=$rate sent_per_s=$(field sent_per_s "$line") conns=$OVER_CONNS seconds=$SECS ok_per_s=$(field ok_per_s "$line") shed_per_s=$(field shed_per_s "$line") p99_shed_ms=$(field p99_shed_ms "$line") p50_shed_ms=$(field p50_shed_ms "$line") p99_ok_ms=$(field p99_ok_ms "$line") $RSS errors=$errors resent=$(field resent "$line") late=$(field late "$line") unanswered=$(field unanswered "$line") loadgen_cpu_pct=$(field cpu_pct "$line") server_cpu_pct=$SCPU"
done

# 3. every 201 in the store, nothing more
echo "stored created=$created_all lost=$lost_all extra=$extra_all"

# 4. slowloris: alone, with the slow clients, alone, with, alone (the machine's
# speed drifts: the slow windows are compared with the windows around them)
rm -f "$DIR/ruxue.db" "$DIR/ruxue.db-wal" "$DIR/ruxue.db-shm"
cp "$DIR/template.db" "$DIR/ruxue.db"
start
slow_start() {
    python3 "$ROOT/bench/slowloris.py" "$PORT" 1000 60 100 3 >"$DIR/slow.out" 2>&1 &
    SLOW=$!
    i=0
    until grep -q 'SLOWLORIS ready' "$DIR/slow.out" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt 300 ] && { cat "$DIR/slow.out" >&2; exit 1; }
        sleep 0.1
    done
    sleep 2
}
slow_stop() {
    kill -TERM "$SLOW" 2>/dev/null || true
    wait "$SLOW" 2>/dev/null || true
    SLOW=
    cat "$DIR/slow.out" >>"$DIR/slow.all"
}
measure() { loadgen --conns 500 --seconds "$RSECS" --path /api/me --sessions "$DIR/sessions.txt"; }
RSECS=${READ_SECS:-8}
b1=$(measure)
slow_start
s1=$(measure)
slow_stop
b2=$(measure)
slow_start
s2=$(measure)
slow_stop
b3=$(measure)
stop
r() { field ok_per_s "$1"; }
base=$(awk "BEGIN {printf \"%.0f\", ($(r "$b1") + $(r "$b2") + $(r "$b3")) / 3}")
with=$(awk "BEGIN {printf \"%.0f\", ($(r "$s1") + $(r "$s2")) / 2}")
opened=$(sed -n 's/^SLOWLORIS ready open=\([0-9]*\).*/\1/p' "$DIR/slow.all" | sort -n | head -1)
open_end=$(sed -n 's/^SLOWLORIS clients=.* open=\([0-9]*\).*/\1/p' "$DIR/slow.all" | sort -n | head -1)
closed=$(sed -n 's/^SLOWLORIS clients=.* closed_by_server=\([0-9]*\).*/\1/p' "$DIR/slow.all" | awk '{s += $1} END {print s + 0}')
errs=0
for l in "$b1" "$s1" "$b2" "$s2" "$b3"; do
    errs=$((errs + $(field errors "$l") + $(field other "$l")))
done
echo "slowloris slow_clients=1000 slow_open=$opened slow_open_end=$open_end slow_closed=$closed conns=500 base_per_s=$base with_slow_per_s=$with ratio=$(awk "BEGIN {printf \"%.3f\", $with / $base}") windows_per_s=$(r "$b1"),$(r "$s1")s,$(r "$b2"),$(r "$s2")s,$(r "$b3") p99_base_ms=$(field p99_ok_ms "$b2") p99_slow_ms=$(field p99_ok_ms "$s1") errors=$errs loadgen_cpu_pct=$(field cpu_pct "$s1")"
