#!/bin/sh
# tools/bench_allocate.sh RUXUE [STUDENTS] - time `ruxue allocate` from files to files.
#
# Writes a demo district of STUDENTS (default 10^6) students and
# STUDENTS/200 schools into a temporary directory (not timed), then times
# the whole `ruxue allocate` - reading and checking the CSV files, the
# lottery, every round, writing every result file - and reads its peak
# memory from /usr/bin/time.  Then the official run of the same district:
# the lottery ceremony (commit, freeze, draw; not timed), `ruxue allocate
# --publish` (the run, the signed bundle, and its verification before it
# appears) and `ruxue verify` of the bundle (hashes, lottery, re-run,
# comparison).  Their peer is the plain allocate of the same run, so the
# ratio says what publishing and verifying cost on top of it.  Prints
# lines a script can read:
#   allocate students=N total_s=T peak_mib=P
#   publish students=N total_s=T peak_mib=P bundle_mib=B ratio_to_allocate=R
#   verify students=N total_s=T peak_mib=P ratio_to_allocate=R
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

# the official run: ceremony, publish, verify
"$RUXUE" keys new --out "$DIR/bureau" >/dev/null
"$RUXUE" lottery commit "$DIR/district" --secret "$DIR/secret" >/dev/null
"$RUXUE" lottery freeze "$DIR/district" >/dev/null
"$RUXUE" lottery draw "$DIR/district" --secret "$DIR/secret" --entropy "07 13 22 35 41 48" >/dev/null
/usr/bin/time -f '%e %M' -o "$DIR/time" "$RUXUE" allocate "$DIR/district" --out "$DIR/official" \
    --publish "$DIR/pub" --key "$DIR/bureau.key" --quiet >/dev/null
read -r TP KBP <"$DIR/time"
BUNDLE=$(du -sm "$DIR/pub" | cut -f1)
echo "publish students=$N total_s=$TP peak_mib=$((KBP / 1024)) bundle_mib=$BUNDLE" \
    "ratio_to_allocate=$(awk "BEGIN {printf \"%.1f\", $TP / $T}")"
/usr/bin/time -f '%e %M' -o "$DIR/time" "$RUXUE" verify "$DIR/pub" --pubkey "$DIR/bureau.pub" \
    --quiet >/dev/null
read -r TV KBV <"$DIR/time"
echo "verify students=$N total_s=$TV peak_mib=$((KBV / 1024))" \
    "ratio_to_allocate=$(awk "BEGIN {printf \"%.1f\", $TV / $T}")"
