#!/bin/sh
# tools/bench_allocate.sh RUXUE [STUDENTS] - time `ruxue allocate` from files to files.
#
# Writes a demo district of STUDENTS (default 10^6) students and
# STUDENTS/200 schools into a temporary directory (not timed), then times
# the whole `ruxue allocate` - reading and checking the CSV files, the
# lottery, every round, writing every result file - and reads its peak
# memory from /usr/bin/time.  Prints one line a script can read:
#   allocate students=N total_s=T peak_mib=P
set -eu
RUXUE=${1:?usage: tools/bench_allocate.sh RUXUE [STUDENTS]}
N=${2:-1000000}
M=$((N / 200))
[ "$M" -lt 10 ] && M=10
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
"$RUXUE" demo --students "$N" --schools "$M" --seed 7 --out "$DIR/district" >/dev/null
SEED=0707070707070707070707070707070707070707070707070707070707070707
/usr/bin/time -f '%e %M' -o "$DIR/time" "$RUXUE" allocate "$DIR/district" --out "$DIR/result" \
    --seed "$SEED" --quiet >/dev/null
read -r T KB <"$DIR/time"
echo "allocate students=$N total_s=$T peak_mib=$((KB / 1024))"
