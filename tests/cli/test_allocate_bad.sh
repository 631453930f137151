#!/bin/sh
# test_allocate_bad.sh - `ruxue allocate` end to end, from files to files.
#
# Usage: test_allocate_bad.sh RUXUE_BINARY DATA_DIR
#   DATA_DIR is tests/data: tiny/ is a good district, bad/CASE/ is tiny with
#   one file replaced (or FILE.missing: removed) and `expect`, the error line
#   (see bad/README.md).
#
# Bad districts: exit status 2, stderr is exactly "ruxue: " + expect (so the
# file, line and column are checked), and OUT was not created (nor any
# OUT.tmp-* left).  The good district: exit 0, every file there, the same
# seed gives the same digest, a second run replaces the first, a directory
# that is not a result is refused with status 1 and left alone.
set -u

ruxue=${1:?usage: test_allocate_bad.sh RUXUE_BINARY DATA_DIR}
data=${2:?usage: test_allocate_bad.sh RUXUE_BINARY DATA_DIR}
seed=00000000000000000000000000000000000000000000000000000000000000a1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rx-test-allocate-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
checks=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# ----------------------------------------------------------- bad districts

for case_dir in "$data"/bad/*/; do
    name=$(basename "$case_dir")
    dir="$tmp/district-$name"
    out="$tmp/out-$name"
    mkdir "$dir"
    cp "$data"/tiny/* "$dir"/
    for f in "$case_dir"*; do
        b=$(basename "$f")
        case "$b" in
        expect) ;;
        *.missing) rm -f "$dir/${b%.missing}" ;;
        *) cp "$f" "$dir/$b" ;;
        esac
    done
    want="ruxue: $(sed "s|DIR|$dir|" "$case_dir/expect")"

    "$ruxue" allocate "$dir" --out "$out" --seed "$seed" >"$tmp/stdout" 2>"$tmp/stderr"
    rc=$?
    checks=$((checks + 1))
    got=$(cat "$tmp/stderr")
    [ "$rc" -eq 2 ] || fail "$name: exit status $rc, expected 2"
    [ "$got" = "$want" ] || fail "$name: stderr
  got:  $got
  want: $want"
    [ ! -e "$out" ] || fail "$name: $out was created"
    for t in "$out".tmp-*; do
        [ ! -e "$t" ] || fail "$name: $t was left behind"
    done
    [ ! -s "$tmp/stdout" ] || fail "$name: printed on stdout"
done
[ "$checks" -ge 30 ] || fail "only $checks bad districts found in $data/bad"

# ---------------------------------------------------------- good district

out="$tmp/result"
if ! "$ruxue" allocate "$data/tiny" --out "$out" --seed "$seed" >"$tmp/summary" 2>"$tmp/stderr"; then
    fail "tiny: exit status $?: $(cat "$tmp/stderr")"
fi
for f in assignment.csv schools.csv explanations.csv waitlists.csv digest.txt summary.txt; do
    [ -s "$out/$f" ] || fail "tiny: $out/$f missing or empty"
done
[ ! -e "$out/odds.csv" ] || fail "tiny: odds.csv without --odds"
grep -q "^seed    $seed\$" "$tmp/summary" || fail "tiny: the summary does not print the seed"
grep -q "^digest  $(cat "$out/digest.txt")\$" "$tmp/summary" ||
    fail "tiny: the summary does not print digest.txt"
cmp -s "$tmp/summary" "$out/summary.txt" || fail "tiny: summary.txt differs from stdout"
grep -q '^[0-9a-f]\{64\}$' "$out/digest.txt" || fail "tiny: digest.txt is not 64 hex digits"

# the same seed gives the same bytes; a previous result is replaced
digest=$(cat "$out/digest.txt")
cp "$out/assignment.csv" "$tmp/assignment.first"
if ! "$ruxue" allocate "$data/tiny" --out "$out" --seed "$seed" --odds 10 --quiet >"$tmp/stdout" 2>"$tmp/stderr"; then
    fail "tiny again: $(cat "$tmp/stderr")"
fi
[ ! -s "$tmp/stdout" ] || fail "tiny: --quiet printed something"
[ "$(cat "$out/digest.txt")" = "$digest" ] || fail "tiny: same seed, different digest"
cmp -s "$out/assignment.csv" "$tmp/assignment.first" || fail "tiny: same seed, different assignment"
[ -s "$out/odds.csv" ] || fail "tiny: --odds wrote no odds.csv"
for t in "$out".tmp-* "$out".old-*; do
    [ ! -e "$t" ] || fail "tiny: $t was left behind"
done

# without --seed: a fresh seed, printed
"$ruxue" allocate "$data/tiny" --out "$tmp/fresh" >"$tmp/summary" 2>/dev/null ||
    fail "tiny without --seed failed"
grep -q '^seed    [0-9a-f]\{64\}$' "$tmp/summary" || fail "tiny: no fresh seed printed"

# a directory that is not a result is refused and left alone
mkdir "$tmp/precious"
echo keep >"$tmp/precious/notes.txt"
"$ruxue" allocate "$data/tiny" --out "$tmp/precious" --seed "$seed" >/dev/null 2>"$tmp/stderr"
rc=$?
[ "$rc" -eq 1 ] || fail "precious: exit status $rc, expected 1"
grep -q "is not a ruxue result" "$tmp/stderr" || fail "precious: $(cat "$tmp/stderr")"
[ "$(cat "$tmp/precious/notes.txt")" = keep ] || fail "precious: notes.txt changed"

# ------------------------------------------------------------------ usage

"$ruxue" allocate --help >/dev/null 2>&1 || fail "allocate --help: not 0"
"$ruxue" --help >/dev/null 2>&1 || fail "--help: not 0"
"$ruxue" --version >/dev/null 2>&1 || fail "--version: not 0"
"$ruxue" allocate "$data/tiny" >/dev/null 2>&1
[ $? -eq 2 ] || fail "allocate without --out: not 2"
"$ruxue" allocate "$data/tiny" --out "$tmp/x" --seed abc >/dev/null 2>&1
[ $? -eq 2 ] || fail "allocate --seed abc: not 2"
"$ruxue" allocate "$data/tiny" --out "$tmp/x" --bogus >/dev/null 2>&1
[ $? -eq 2 ] || fail "allocate --bogus: not 2"
"$ruxue" frobnicate >/dev/null 2>&1
[ $? -eq 2 ] || fail "unknown command: not 2"
[ ! -e "$tmp/x" ] || fail "a usage error wrote $tmp/x"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "ok: $checks bad districts, the good one, usage"
