#!/bin/sh
# test_demo_allocate.sh - what a new user does: `ruxue demo`, then
# `ruxue allocate`, from files to files.
#
# Usage: test_demo_allocate.sh RUXUE_BINARY SOURCE_ROOT
#
# Checks: every command's --help exits 0 and names its flags; the demo
# writes the five district files and its policy is the shipped example
# policy to the byte (both policies); the same seed gives the same digest
# and the same files; shuffling the rows of every CSV input changes
# nothing (determinism independent of row order); a different seed gives a
# different digest; --odds writes odds.csv whose shares per student add up
# to 1; the summary counts add up to the number of students.
set -u

ruxue=${1:?usage: test_demo_allocate.sh RUXUE_BINARY SOURCE_ROOT}
root=${2:?usage: test_demo_allocate.sh RUXUE_BINARY SOURCE_ROOT}
seed=00000000000000000000000000000000000000000000000000000000000000b2
seed2=00000000000000000000000000000000000000000000000000000000000000b3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rx-test-demo-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0
checks=0

check() { # check DESCRIPTION COMMAND...
    desc=$1
    shift
    checks=$((checks + 1))
    if ! "$@" >"$tmp/last.out" 2>&1; then
        echo "FAIL: $desc" >&2
        sed 's/^/    /' "$tmp/last.out" >&2
        failures=$((failures + 1))
    fi
}

# --help everywhere
check "ruxue --help" "$ruxue" --help
for cmd in demo allocate; do
    check "ruxue $cmd --help exits 0" "$ruxue" "$cmd" --help
done
check "allocate --help names --odds" sh -c "'$ruxue' allocate --help | grep -q -- --odds"
check "demo --help names --policy" sh -c "'$ruxue' demo --help | grep -q -- --policy"
check "an unknown command exits 2" sh -c "'$ruxue' frobnicate >/dev/null 2>&1; test \$? -eq 2"

# the demo district, both policies
for pol in categories points; do
    d="$tmp/city-$pol"
    check "demo --policy $pol" "$ruxue" demo --students 3000 --schools 30 --seed 5 --policy "$pol" --out "$d"
    for f in policy.ini schools.csv address_units.csv catchments.csv students.csv; do
        check "demo wrote $f ($pol)" test -s "$d/$f"
    done
    want=$root/policies/category-order.ini
    [ "$pol" = points ] && want=$root/policies/points.ini
    check "demo's policy is the shipped $want" cmp "$d/policy.ini" "$want"
    check "allocate ($pol)" "$ruxue" allocate "$d" --out "$d/r1" --seed "$seed" --quiet
    check "allocate again ($pol)" "$ruxue" allocate "$d" --out "$d/r2" --seed "$seed" --quiet
    check "same seed, same digest ($pol)" cmp "$d/r1/digest.txt" "$d/r2/digest.txt"
    for f in assignment.csv schools.csv explanations.csv waitlists.csv; do
        check "same seed, same $f ($pol)" cmp "$d/r1/$f" "$d/r2/$f"
    done
done

# explanations: a sentence per row, Chinese by default, English on request;
# a school that turned a child away was full (it has a cutoff)
e="$d/r1/explanations.csv"
check "explanations in Chinese by default" grep -q "未录取：您的优先顺序" "$e"
check "an admitted row says so in Chinese" grep -q ",admitted,.*录取：这是您的学位" "$e"
check "below the cutoff only at full schools" sh -c "! grep ',below_cutoff,' '$e' | grep -q ',not full,'"
check "allocate --lang en" "$ruxue" allocate "$d" --out "$d/ren" --seed "$seed" --lang en --quiet
check "explanations in English with --lang en" grep -q "not admitted: your priority (" "$d/ren/explanations.csv"
check "--lang does not change the result" cmp "$d/r1/digest.txt" "$d/ren/digest.txt"
check "--lang xx is refused with status 2" sh -c "'$ruxue' allocate '$d' --out '$tmp/nope' --lang xx 2>/dev/null; test \$? -eq 2 && test ! -e '$tmp/nope'"

# late arrivals (随到随办): placed after the run, moving no one
unit=$(sed -n 2p "$d/students.csv" | cut -d, -f3)
printf 'birth_date,id,residence_unit\r\n2020-03-01,LATE-1,%s\r\n2020-04-01,LATE-2,%s\r\n2020-12-01,LATE-3,%s\r\n' \
    "$unit" "$unit" "$unit" >"$tmp/late.csv"
check "allocate --late" "$ruxue" allocate "$d" --out "$d/rlate" --seed "$seed" --late "$tmp/late.csv" --quiet
check "late.csv written" test -s "$d/rlate/late.csv"
check "late children of age are placed by rolling admission" sh -c "grep -c ',rolling,placed,' '$d/rlate/late.csv' | grep -qx 2"
check "a late child born after the cutoff is not placed, with the reason" grep -q "^LATE-3,,,,unplaced,born after" "$d/rlate/late.csv"
check "late arrivals move no one" cmp "$d/r1/assignment.csv" "$d/rlate/assignment.csv"
check "late arrivals leave the run's digest alone" cmp "$d/r1/digest.txt" "$d/rlate/digest.txt"
check "admitted grows by the late children placed" sh -c "
    a=\$(tail -n +2 '$d/r1/schools.csv' | awk -F, '{s+=\$6} END {print s}');
    b=\$(tail -n +2 '$d/rlate/schools.csv' | awk -F, '{s+=\$6} END {print s}');
    test \$((b - a)) -eq 2"
printf 'id,birth_date\r\nLATE-9,2020-13-01\r\n' >"$tmp/late_bad.csv"
check "a bad late row is refused at its own line" sh -c "'$ruxue' allocate '$d' --out '$tmp/nolate' --late '$tmp/late_bad.csv' 2>&1 >/dev/null | grep -q '^ruxue: late_bad.csv:2: birth_date: '; test ! -e '$tmp/nolate'"
printf 'id,birthdate\r\nLATE-9,2020-01-01\r\n' >"$tmp/late_col.csv"
check "a late file's unknown column is refused by name" sh -c "'$ruxue' allocate '$d' --out '$tmp/nolate' --late '$tmp/late_col.csv' 2>&1 >/dev/null | grep -q \"^ruxue: late_col.csv:1: birthdate: expected a column of students.csv, found 'birthdate'\""
first=$(sed -n 2p "$d/students.csv" | cut -d, -f1 | sed 's/^\xef\xbb\xbf//')
printf 'id,birth_date,residence_unit\r\n%s,2020-01-01,%s\r\n' "$first" "$unit" >"$tmp/late_dup.csv"
check "a late child already in students.csv is refused, naming both files" sh -c "'$ruxue' allocate '$d' --out '$tmp/nolate' --late '$tmp/late_dup.csv' 2>&1 >/dev/null | grep -q '^ruxue: late_dup.csv:2: id: .*first on line 2 of students.csv'"

# row order does not matter: shuffle every table but its header
d="$tmp/city-categories"
s="$tmp/shuffled"
mkdir "$s"
cp "$d/policy.ini" "$s/"
for f in schools.csv address_units.csv catchments.csv students.csv; do
    # rows never hold line breaks in the demo, so a line is a row
    head -n 1 "$d/$f" >"$s/$f"
    tail -n +2 "$d/$f" | shuf --random-source="$d/students.csv" >>"$s/$f"
done
check "the shuffled copy differs" sh -c "! cmp -s '$d/students.csv' '$s/students.csv'"
check "allocate shuffled" "$ruxue" allocate "$s" --out "$s/r" --seed "$seed" --quiet
check "row order does not change the digest" cmp "$d/r1/digest.txt" "$s/r/digest.txt"
check "row order does not change the assignment" cmp "$d/r1/assignment.csv" "$s/r/assignment.csv"

# another seed, another lottery
check "allocate with another seed" "$ruxue" allocate "$d" --out "$d/r3" --seed "$seed2" --quiet
check "another seed gives another digest" sh -c "! cmp -s '$d/r1/digest.txt' '$d/r3/digest.txt'"

# summary counts add up
check "summary adds up" sh -c "'$ruxue' allocate '$d' --out '$d/r4' --seed '$seed' | awk '
    /^students/ {n=\$2} /ineligible/ {s+=\$2} /placed, / {s+=\$3} /^  unplaced/ {s+=\$2}
    END {exit !(n == 3000 && s == n)}'"

# chance of offer
check "allocate --odds 8" "$ruxue" allocate "$d" --out "$d/ro" --seed "$seed" --odds 8 --quiet
check "odds.csv written" test -s "$d/ro/odds.csv"
check "--odds keeps the result of the seed" cmp "$d/r1/digest.txt" "$d/ro/digest.txt"
check "odds shares of each student add up to 1" sh -c "tail -n +2 '$d/ro/odds.csv' | tr -d '\r' | awk -F, '
    {sum[\$1] += \$NF} END {for (s in sum) if (sum[s] < 0.999 || sum[s] > 1.001) {print s, sum[s]; bad=1}; exit bad}'"

echo "demo_allocate: $((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
