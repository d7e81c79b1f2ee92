#!/usr/bin/env bash
# The benchmark works (issue 7): bench/run --smoke measures every figure once, at RAID5 on
# 3 shelves of its own lab, and leaves a table, CSV, JSON and chart in which each figure,
# ceiling and goal is there with a number.  Nothing is asserted about speed: a benchmark
# is not a test.  bench/run cleans up its own lab (and on a time-out: timeout sends TERM).
set -euo pipefail
bench=$top_srcdir/bench/run
out=$(mktemp -d "${TMPDIR:-/tmp}/aoeraid-bench-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A mistake in the arguments is one line naming it, before any lab is built.
err=$("$bench" --levels 7 --out "$out/bad" 2>&1) && fail "--levels 7 was taken"
grep -q "^bench: error: --levels: '7' is not a level" <<<"$err" || fail "--levels 7: $err"
[ ! -e "$out/bad" ] || fail "--levels 7 made its output directory"
echo "ok: --levels 7 refused: $err"

timeout -k 10 240 "$bench" --smoke --levels 5 --shelves 3 --out "$out/run" >"$out/log" 2>&1 ||
  { tail -n 40 "$out/log"; fail "bench/run --smoke exited $?"; }
grep -q '^bench: done in' "$out/log" || fail "no 'bench: done' line"
echo "ok: bench/run --smoke ran ($(grep -o 'done in [0-9]* s' "$out/log"))"

# Every figure of every target, as a number: the raw ceiling, the NBD ceiling, the array.
csv=$out/run/results.csv
value() { awk -F, -v t="\"$1\"" -v t2="$1" -v m="$2" \
            '($1 == t || $1 == t2) && $2 == m { print $4; exit }' "$csv"; }
number() { [[ $1 =~ ^[0-9]+(\.[0-9]+)?$ ]] && awk -v v="$1" 'BEGIN { exit !(v > 0) }'; }
expect_figures() {
  local target=$1 metric v; shift
  for metric in "$@"; do
    v=$(value "$target" "$metric")
    number "$v" || fail "$target $metric: '$v' is not a figure (results.csv)"
  done
  echo "ok: $target: $# figures"
}
common="seq_write seq_read rand_read_qd1 lat_p50 lat_p99 rand_read_qd32 rand_write_qd1 rand_write_qd32"
for i in 1 2 3; do expect_figures "probe e$i.1" seq_write cpu_write seq_read cpu_read; done
expect_figures "raw x3" $common cpu_write cpu_read
expect_figures nbd-memory $common
expect_figures raid5 resync $common cpu_write cpu_read check deg_read rebuild
# The ratios against each ceiling are computed, not left out.
ratios=$(awk -F, '($1 == "raid5" || $1 == "\"raid5\"") && $2 == "seq_read" { print $7, $9, $11 }' "$csv")
for r in $ratios; do number "$r" || fail "raid5 seq_read ratios '$ratios': not all computed"; done
[ "$(wc -w <<<"$ratios")" = 3 ] || fail "raid5 seq_read ratios: '$ratios'"
echo "ok: raid5 seq read against raw, NBD and both: $ratios"

# The JSON holds the same rows and the goals of issue 7, each with a verdict and a number.
json=$out/run/results.json
[ "$(jq '.results | length' "$json")" = "$(($(wc -l <"$csv") - 1))" ] ||
  fail "results.json has $(jq '.results | length' "$json") rows, results.csv $(($(wc -l <"$csv") - 1))"
jq -e '.run.smoke == true' "$json" >/dev/null || fail "results.json does not say it was a smoke run"
goals=$(jq -r '.goals[] | select(.goal | startswith("raid5 ")) | "\(.verdict) \(.measured)"' "$json")
[ "$(wc -l <<<"$goals")" = 5 ] || fail "raid5 goals: expected 5 (seq read, full-stripe write, qd32, p50, degraded), got: $goals"
while read -r verdict measured; do
  [[ $verdict =~ ^(PASS|MISS)$ ]] && [[ $measured =~ ^-?[0-9.]+$ ]] ||
    fail "a goal without a verdict or a number: '$verdict $measured'"
done <<<"$goals"
echo "ok: 5 goals for raid5: $(awk '{print $1}' <<<"$goals" | sort | uniq -c | tr -s ' \n' ' ')"

# The table says what the run was, and the chart is a PNG.
grep -q '^SMOKE RUN' "$out/run/table.txt" || fail "table.txt does not say it was a smoke run"
grep -q 'PASS raid5\|MISS raid5' "$out/run/table.txt" || fail "table.txt lists no goal of raid5"
[ "$(head -c 4 "$out/run/throughput.png" | od -An -c | tr -d ' ')" = '211PNG' ] ||
  fail "throughput.png is not a PNG"
echo "ok: table.txt and throughput.png"
