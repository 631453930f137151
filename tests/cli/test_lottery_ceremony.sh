#!/bin/sh
# test_lottery_ceremony.sh - the public lottery from commit to verify, as a
# bureau, a notary and a family would run it (docs/lottery.md).
#
# Usage: test_lottery_ceremony.sh RUXUE_BINARY SOURCE_ROOT
#
# The whole ceremony on a demo district: keys, commitment, freeze, draw,
# the official run with its publication bundle, verify.  Every hash is
# recomputed with tools/lottery_ref.py (an implementation of the spec in
# Python) and sha256sum, not with ruxue itself.  Then each step's refusals
# (a wrong secret, a list or a policy changed after the freeze, a second
# draw, a commitment replaced) and each kind of tampering with the bundle,
# which verify must catch and name.  Last, an imported lottery.
set -u

ruxue=${1:?usage: test_lottery_ceremony.sh RUXUE_BINARY SOURCE_ROOT}
root=${2:?usage: test_lottery_ceremony.sh RUXUE_BINARY SOURCE_ROOT}
case $ruxue in /*) ;; *) ruxue=$PWD/$ruxue ;; esac
case $root in /*) ;; *) root=$PWD/$root ;; esac
ref="python3 $root/tools/lottery_ref.py"
entropy='07 13 22 35 41 48 上海市公证处 2027-06-01'

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rx-test-lottery-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
checks=0

check() { # check DESCRIPTION COMMAND...
    desc=$1
    shift
    checks=$((checks + 1))
    if ! "$@" >"$tmp/last.out" 2>&1; then
        echo "FAIL: $desc" >&2
        sed 's/^/    /' "$tmp/last.out" | head -20 >&2
        failures=$((failures + 1))
    fi
}

# refuses DESCRIPTION STATUS PATTERN COMMAND...: exits with STATUS and says PATTERN
refuses() {
    desc=$1 want=$2 pat=$3
    shift 3
    checks=$((checks + 1))
    "$@" >"$tmp/last.out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ] || ! grep -q -- "$pat" "$tmp/last.out"; then
        echo "FAIL: $desc (exit $got, expected $want and '$pat')" >&2
        sed 's/^/    /' "$tmp/last.out" | head -20 >&2
        failures=$((failures + 1))
    fi
}

value() { # value KEY RECORD-FILE
    sed -n "s/^$1 = //p" "$2"
}

mode_of() {
    stat -c %a "$1"
}

cd "$tmp" || exit 1
check "help of lottery, keys, verify" sh -c "'$ruxue' lottery --help && '$ruxue' keys --help && '$ruxue' verify --help"
check "allocate --help names --publish and --lottery" sh -c "'$ruxue' allocate --help | grep -q -- --publish && '$ruxue' allocate --help | grep -q -- --lottery"

# ---------------------------------------------------------- the ceremony
d=city
check "demo district" "$ruxue" demo --students 3000 --schools 30 --seed 11 --out "$d"
check "keys new" "$ruxue" keys new --out bureau
check "the private key is mode 0600" test "$(mode_of bureau.key)" = 600
refuses "keys new never replaces a key" 1 "refusing to replace" "$ruxue" keys new --out bureau
pubkey=$(value public_key bureau.pub)

refuses "freeze before commit is refused" 1 "commit" "$ruxue" lottery freeze "$d"
check "lottery commit" "$ruxue" lottery commit "$d" --secret secret.txt
check "the secret is mode 0600" test "$(mode_of secret.txt)" = 600
refuses "a second commitment is refused" 1 "never replaced" "$ruxue" lottery commit "$d" --secret secret2.txt
check "the refused commit made no secret" test ! -e secret2.txt
secret=$(value secret secret.txt)
check "commitment = SHA-256 of domain, intake and secret (lottery_ref)" \
    test "$(value commitment "$d/lottery/commitment.txt")" = "$($ref commit "$secret" 2027-G1)"

check "lottery freeze" "$ruxue" lottery freeze "$d"
tail -n +2 "$d/students.csv" | cut -d, -f1 | LC_ALL=C sort >ids.txt
check "frozen.txt is every pseudonym in byte order" cmp ids.txt "$d/lottery/frozen.txt"
check "frozen digest = sha256sum of frozen.txt" \
    test "$(value frozen_digest "$d/lottery/freeze.txt")" = "$(sha256sum "$d/lottery/frozen.txt" | cut -c1-64)"
check "freezing again the same list is a no-op" sh -c "'$ruxue' lottery freeze '$d' | grep -q 'already frozen'"

# the district changes after the freeze: the draw refuses and names it
cp "$d/students.csv" students.keep
printf 'Plate000001,2020-03-01,%s,,,,no,0,,,none,,,\r\n' \
    "$(sed -n 2p "$d/address_units.csv" | cut -d, -f1 | tr -d '\357\273\277')" >>"$d/students.csv"
refuses "draw refuses a student added after the freeze, by name" 1 "Plate000001" \
    "$ruxue" lottery draw "$d" --secret secret.txt --entropy "$entropy"
cp students.keep "$d/students.csv"
cp "$d/policy.ini" policy.keep
sed -i 's/^overflow_radius = .*/overflow_radius = 3/' "$d/policy.ini"
refuses "draw refuses a policy edited after the freeze" 1 "policy.ini: changed since the freeze" \
    "$ruxue" lottery draw "$d" --secret secret.txt --entropy "$entropy"
cp policy.keep "$d/policy.ini"
printf 'format = ruxue-lottery-secret-v1\nintake = 2027-G1\nsecret = %s\n' \
    "$(printf '%064d' 7)" >wrong-secret.txt
cp "$d/schools.csv" schools.keep
sed -i '2s/,\([0-9]*\),\([-0-9.]*\),\([-0-9.]*\)\r$/,1\1,\2,\3\r/' "$d/schools.csv"
check "(test setup: a school's seats changed)" sh -c "! cmp -s schools.keep '$d/schools.csv'"
refuses "draw refuses seats changed after the freeze" 1 "schools.csv: changed since the freeze" \
    "$ruxue" lottery draw "$d" --secret secret.txt --entropy "$entropy"
cp schools.keep "$d/schools.csv"
refuses "draw refuses a secret that does not match the commitment" 1 "does not match the commitment" \
    "$ruxue" lottery draw "$d" --secret wrong-secret.txt --entropy "$entropy"
refuses "draw refuses entropy with a space at the end" 2 "entropy" \
    "$ruxue" lottery draw "$d" --secret secret.txt --entropy "1 2 3 "
check "no draw.txt after the refusals" test ! -e "$d/lottery/draw.txt"

check "lottery draw" "$ruxue" lottery draw "$d" --secret secret.txt --entropy "$entropy"
seed=$(value seed "$d/lottery/draw.txt")
check "draw.txt reveals the secret" test "$(value secret "$d/lottery/draw.txt")" = "$secret"
check "seed = HMAC(secret, domain, intake, frozen digest, entropy) (lottery_ref)" \
    test "$seed" = "$($ref seed "$secret" 2027-G1 "$(value frozen_digest "$d/lottery/freeze.txt")" "$entropy")"
check "drawing again the same way is a no-op" sh -c "'$ruxue' lottery draw '$d' --secret secret.txt --entropy '$entropy' | grep -q 'already drawn'"
refuses "a second draw with other entropy is refused" 1 "a draw happens once" \
    "$ruxue" lottery draw "$d" --secret secret.txt --entropy "1 2 3"

# after the draw nothing can move: allocate refuses a changed district
sed -i '2s/,\([0-9]*\),\([-0-9.]*\),\([-0-9.]*\)\r$/,1\1,\2,\3\r/' "$d/schools.csv"
refuses "allocate refuses seats changed after the draw" 2 "schools.csv: changed since the freeze" \
    "$ruxue" allocate "$d" --out result-moved
cp schools.keep "$d/schools.csv"
printf 'student,lottery\r\n' >numbers-late.csv
refuses "imported numbers cannot replace a public draw" 2 "drawn in public" \
    "$ruxue" allocate "$d" --out result-imp --lottery numbers-late.csv

# the official run and its bundle
check "official run with --publish" "$ruxue" allocate "$d" --out result --publish pub --key bureau.key
check "the summary says the lottery was drawn in public" grep -q "drawn in public, seed $seed" result/summary.txt
check "a run without --seed uses the drawn seed: same digest" sh -c "'$ruxue' allocate '$d' --out result2 --quiet && cmp result/digest.txt result2/digest.txt"
check "verify with the public key file" sh -c "'$ruxue' verify pub --pubkey bureau.pub | grep -q '^verified: identical result (digest $(cat result/digest.txt))'"
check "verify with the public key as hex" "$ruxue" verify pub --pubkey "$pubkey"
check "'ruxue lottery verify', the contract's name, is the same check" sh -c "'$ruxue' lottery verify pub --pubkey bureau.pub | grep -q '^verified: identical result (digest $(cat result/digest.txt))'"
check "sha256sum -c SHA256SUMS" sh -c "cd pub && sha256sum -c --quiet SHA256SUMS"
check "the bundle's result is the run's" sh -c "cmp result/assignment.csv pub/result/assignment.csv && cmp result/digest.txt pub/result/digest.txt"
for f in README.txt bundle.txt bureau.pub district/policy.ini district/students.csv \
    lottery/commitment.txt lottery/frozen.txt lottery/freeze.txt lottery/draw.txt \
    result/schools.csv result/waitlists.csv result/explanations.csv; do
    check "bundle holds $f" test -s "pub/$f"
done
check "policy.ini is published as it was" cmp "$d/policy.ini" pub/district/policy.ini
check "published students: the same pseudonyms" sh -c "tail -n +2 pub/district/students.csv | cut -d, -f1 | LC_ALL=C sort | cmp - ids.txt"
check "published birth dates are only the cutoff or the day after" sh -c \
    "tail -n +2 pub/district/students.csv | cut -d, -f2 | sort -u | grep -v -x -e 2020-08-31 -e 2020-09-01 | wc -l | grep -qx 0"
check "no secret key or lottery secret file in the bundle" sh -c "! grep -rq -e secret_key -e ruxue-lottery-secret pub"
refuses "--publish into a non-empty directory is refused" 1 "never replaced" \
    "$ruxue" allocate "$d" --out result3 --publish pub --key bureau.key
check "a refused --publish writes no result either" test ! -e result3

# a family checks its own number from the seed and its pseudonym
student=$(sed -n 2p ids.txt)
frac=$(grep "^$student," result/assignment.csv | tr -d '\r' | awk -F, '{print $NF}')
check "lottery number matches lottery_ref" sh -c \
    "'$ruxue' lottery number --seed '$seed' --intake 2027-G1 --student '$student' | grep -q \"$($ref number "$seed" 2027-G1 "$student" | cut -d' ' -f1)\""
check "the number used in assignment.csv is the one the family computes" sh -c \
    "$ref number '$seed' 2027-G1 '$student' | grep -q ' $frac\$'"

# ------------------------------------------------------------ tampering
tamper() { # tamper NAME: a fresh copy of the bundle in t-NAME
    rm -rf "t-$1"
    cp -r pub "t-$1"
}
row=$(grep -n ',placed,placed,' pub/result/assignment.csv | head -1)
line=${row%%:*}
victim=$(echo "${row#*:}" | cut -d, -f1)
school=$(echo "${row#*:}" | cut -d, -f2)
other=$(tail -n +2 pub/district/schools.csv | cut -d, -f1 | grep -v -x "$school" | head -1)
tamper row
sed -i "${line}s/^$victim,$school,/$victim,$other,/" t-row/result/assignment.csv
refuses "a changed result row: the hash fails" 1 "result/assignment.csv: changed since it was signed" "$ruxue" verify t-row --pubkey bureau.pub
refuses "'ruxue lottery verify' refuses it the same" 1 "result/assignment.csv: changed since it was signed" "$ruxue" lottery verify t-row --pubkey bureau.pub
refuses "a changed result row: the student and both schools are named" 1 \
    "student $victim: school: published '$other', re-run '$school'" "$ruxue" verify t-row --pubkey bureau.pub

tamper added
printf 'Paaaaaadded,2020-03-01,%s,,,,no,0,,,none,,,\r\n' \
    "$(sed -n 2p pub/district/address_units.csv | cut -d, -f1 | tr -d '\357\273\277')" >>t-added/district/students.csv
refuses "a student added after the freeze is named" 1 "added after the freeze): Paaaaaadded" "$ruxue" verify t-added --pubkey bureau.pub
tamper frozen
(echo Paaaaaadded; cat pub/lottery/frozen.txt) >t-frozen/lottery/frozen.txt
cp t-added/district/students.csv t-frozen/district/students.csv
refuses "a student slipped into the frozen list too: the frozen digest fails" 1 \
    "lottery/frozen.txt: the frozen list hashes to" "$ruxue" verify t-frozen --pubkey bureau.pub

tamper seed
sed -i "s/^seed = .*/seed = $(printf '%064d' 1)/" t-seed/lottery/draw.txt
refuses "a different seed is named" 1 "seed: does not derive from the secret" "$ruxue" verify t-seed --pubkey bureau.pub
tamper entropy
sed -i "s/^entropy = .*/entropy = 1 2 3/" t-entropy/lottery/draw.txt
refuses "different entropy: the seed no longer derives" 1 "seed: does not derive" "$ruxue" verify t-entropy --pubkey bureau.pub
tamper secret
sed -i "s/^secret = .*/secret = $(printf '%064d' 7)/" t-secret/lottery/draw.txt
refuses "a wrong secret is named" 1 "secret: does not match the commitment" "$ruxue" verify t-secret --pubkey bureau.pub

tamper sig
sig=$(cat t-sig/SHA256SUMS.sig)
first=$(echo "$sig" | cut -c1)
flip=0
[ "$first" = 0 ] && flip=1
echo "$flip$(echo "$sig" | cut -c2-)" >t-sig/SHA256SUMS.sig
refuses "a bad signature is named" 1 "SHA256SUMS.sig: bad signature" "$ruxue" verify t-sig --pubkey bureau.pub
check "keys new (another key)" "$ruxue" keys new --out impostor
refuses "a bundle checked against another key fails" 1 "bad signature" "$ruxue" verify pub --pubkey impostor.pub
tamper resigned
cp impostor.pub t-resigned/bureau.pub
refuses "replacing bureau.pub changes nothing when the real key is given" 1 "bureau.pub: changed since it was signed" "$ruxue" verify t-resigned --pubkey bureau.pub

tamper policy
sed -i 's/^overflow_radius = .*/overflow_radius = 1/' t-policy/district/policy.ini
refuses "a policy edit is named" 1 "district/policy.ini: changed since the freeze" "$ruxue" verify t-policy --pubkey bureau.pub
tamper seats
sed -i '2s/,\([0-9]*\),\([-0-9.]*\),\([-0-9.]*\)\r$/,1\1,\2,\3\r/' t-seats/district/schools.csv
refuses "seats changed in the bundle are named" 1 "district/schools.csv: changed since the freeze" "$ruxue" verify t-seats --pubkey bureau.pub
tamper extra
echo hello >t-extra/result/note.txt
refuses "a file added to the bundle is named" 1 "result/note.txt: not listed in SHA256SUMS" "$ruxue" verify t-extra --pubkey bureau.pub
tamper missing
rm t-missing/result/waitlists.csv
refuses "a file removed from the bundle is named" 1 "result/waitlists.csv: listed in SHA256SUMS but missing" "$ruxue" verify t-missing --pubkey bureau.pub

# ----------------------------------------------------- imported lottery
e=city2
check "demo district 2" "$ruxue" demo --students 800 --schools 12 --seed 12 --out "$e"
tail -n +2 "$e/students.csv" | cut -d, -f1 | awk 'BEGIN {print "student,lottery"; srand(7)}
    {printf "%s,%08x%08x\n", $1, int(rand() * 4294967296), int(rand() * 4294967296)}' >numbers.csv
check "allocate --lottery FILE --publish" "$ruxue" allocate "$e" --out result-i --lottery numbers.csv --publish pub-i --key bureau.key
check "the summary says the numbers were imported, with their digest" \
    grep -q "imported numbers, sha256 $(sha256sum numbers.csv | cut -c1-64)" result-i/summary.txt
check "the bundle says imported" grep -q '^lottery = imported' pub-i/bundle.txt
check "the bundle carries the numbers' digest" \
    test "$(value numbers_digest pub-i/lottery/import.txt)" = "$(sha256sum numbers.csv | cut -c1-64)"
check "an imported bundle verifies" sh -c "'$ruxue' verify pub-i --pubkey bureau.pub | grep -q '^verified: identical result'"
rm -rf t-num && cp -r pub-i t-num
sed -i '2s/,\([0-9a-f]\)/,f/' t-num/lottery/numbers.csv
refuses "changed imported numbers are named" 1 "lottery/numbers.csv: its SHA-256 is not the numbers_digest" "$ruxue" verify t-num --pubkey bureau.pub
head -n 100 numbers.csv >short.csv
refuses "an imported file missing children is refused" 2 "expected a number for every applicant" \
    "$ruxue" allocate "$e" --out r-short --lottery short.csv
refuses "--publish without an official lottery is refused" 2 "needs an official lottery" \
    "$ruxue" allocate "$e" --out r-none --publish pub-none --key bureau.key
refuses "--publish with --seed is refused" 2 "a chosen seed makes a dry run" \
    "$ruxue" allocate "$e" --out r-none --seed "$seed" --publish pub-none --key bureau.key

echo "lottery_ceremony: $((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
