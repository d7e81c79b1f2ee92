#!/usr/bin/env bash
# aoeraid discover finds real vblade shelves with their sizes, says clearly when none
# answer, and periodic re-discovery picks up a shelf that appears later.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 90

lab_up -n 3 -s 48M -m 9000
# Give the shelves different sizes, so a size reported for the wrong shelf shows.
lab_kill 2; truncate -s 80M "${LAB_IMG[2]}"; lab_start 2
lab_kill 3; truncate -s 20M "${LAB_IMG[3]}"; lab_start 3

out=$(lab_exec aoeraid discover -v -i h0)
echo "$out"
[ "$(echo "$out" | wc -l)" = 3 ] || lab_die "expected 3 shelves, got: $out"
echo "$out" | grep >/dev/null '^e1\.1  *48\.0MiB h0 up .* bufcnt=16 payload=8704 write-cache=off ' ||
  lab_die "e1.1 line wrong"
echo "$out" | grep >/dev/null '^e2\.1  *80\.0MiB h0 up ' || lab_die "e2.1 line wrong"
echo "$out" | grep >/dev/null '^e3\.1  *20\.0MiB h0 up ' || lab_die "e3.1 line wrong"
echo "ok: three shelves with their sizes, 17 sectors (8704 bytes) per frame at MTU 9000"

json=$(lab_exec aoeraid discover --json)
[ "$(echo "$json" | jq length)" = 3 ] || lab_die "--json: expected 3 entries: $json"
[ "$(echo "$json" | jq -r '.[] | "\(.shelf).\(.slot)=\(.sectors)"' | tr '\n' ' ')" = \
  "1.1=98304 2.1=163840 3.1=40960 " ] || lab_die "--json sizes wrong: $json"
[ "$(echo "$json" | jq -r '.[0].serial')" = "1.1:$(hostname)" ] || lab_die "serial: $json"
[ "$(echo "$json" | jq -r '.[0].paths[0].iface')" = h0 ] || lab_die "path iface: $json"
[ "$(echo "$json" | jq -r '.[0].write_cache')" = false ] || lab_die "vblade has no write cache: $json"
echo "ok: --json, every up Ethernet interface by default"

# Bad input: a clear one-line error naming what was wrong.
set +e
err=$(lab_exec aoeraid discover -i nosuch0 2>&1); rc=$?
set -e
[ $rc != 0 ] && echo "$err" | grep >/dev/null "nosuch0" || lab_die "unknown interface: rc=$rc '$err'"
echo "ok: unknown interface: $err"

lab_kill 1; lab_kill 2; lab_kill 3
set +e
err=$(lab_exec aoeraid discover -i h0 -w 300 2>&1); rc=$?
set -e
[ $rc = 1 ] && echo "$err" | grep >/dev/null "no AoE shelf answered on h0" ||
  lab_die "no shelves: rc=$rc '$err'"
echo "ok: none found: $err"

# A shelf that appears after discovery is picked up by periodic re-discovery (2 s here).
lab_start 1
lab_bg client aoe-client -i h0 -w 3000 1.1 mark "$LAB_DIR/ready" wait-target 2.1 10000 \
  >"$LAB_DIR/client.out" 2>&1
for _ in $(seq 600); do [ -e "$LAB_DIR/ready" ] && break; sleep 0.05; done
[ -e "$LAB_DIR/ready" ] || lab_die "client did not start: $(cat "$LAB_DIR/client.out")"
lab_start 2
wait "$client" || lab_die "re-discovery: $(cat "$LAB_DIR/client.out")"
grep -q "wait-target: ok" "$LAB_DIR/client.out" || lab_die "re-discovery: $(cat "$LAB_DIR/client.out")"
echo "ok: a shelf started later is found by re-discovery"
echo "aoe-discover: passed"
