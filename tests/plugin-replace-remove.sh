#!/usr/bin/env bash
# `aoeraid remove NEW` while NEW is the new member of a running replace: the array writes
# to it, so it is refused (md: EBUSY) with a line that says what to do, and the shelf stays
# reserved.  `aoeraid fail NEW` stops the replace (md: a failed replacement), OLD serving
# on; then NEW is held by nothing and `remove` releases it.  Every byte reads right, also
# with another member gone afterwards.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 8M 2M
mac=$(lab_host_mac h0)
log=$LAB_DIR/nbdkit.log

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the initial resync"
"$aoeraid" speed -c "$ctl" max=1M >/dev/null     # the copy takes ~30 s
out=$("$aoeraid" replace -c "$ctl" e2.1 e4.1) || lab_die "replace failed: $out"
status | grep >/dev/null "replace slot 1 (e2.1 -> e4.1)" || lab_die "no replace running: $(status)"
echo "ok: replacing e2.1 with e4.1, slowly"

out=$("$aoeraid" remove -c "$ctl" e4.1 2>&1) && lab_die "remove of the replacing e4.1 taken: $out"
grep -q "e4.1 is replacing e2.1: wait for the replace to finish, or fail e4.1 first" <<<"$out" ||
  lab_die "remove e4.1 answered: $out"
[ "$(echo "$out" | wc -l)" = 1 ] || lab_die "not one line: $out"
[ "$(holders 4.1)" = "$mac" ] || lab_die "e4.1 released all the same: $(holders 4.1)"
status | grep >/dev/null "replace slot 1 (e2.1 -> e4.1)" || lab_die "the replace stopped: $(status)"
echo "ok: refused: $out"

out=$("$aoeraid" fail -c "$ctl" e4.1) || lab_die "fail e4.1 refused: $out"
grep -q "e4.1 marked faulty: the replace of e2.1 stops" <<<"$out" || lab_die "fail e4.1 answered: $out"
for _ in $(seq 300); do status | grep >/dev/null "replace slot" || break; sleep 0.1; done
out=$(status)
grep -q "replace slot" <<<"$out" && lab_die "the replace goes on: $out"
grep -Eq "^ +1 +e2.1 +active" <<<"$out" || lab_die "e2.1 does not serve slot 1: $out"
grep -q "state clean" <<<"$out" || lab_die "not clean: $out"
grep -q "spares none" <<<"$out" || lab_die "e4.1 back as a spare: $out"
grep -q "e4.1, replacing e2.1 (slot 1), failed by the administrator; the replace stops" "$log" ||
  lab_die "no line says the replace was stopped: $(grep e4.1 "$log")"
echo "ok: fail e4.1 stopped the replace; e2.1 serves slot 1"

out=$("$aoeraid" remove -c "$ctl" e4.1) || lab_die "remove e4.1 after fail: $out"
grep -q "removed e4.1" <<<"$out" || lab_die "remove answered: $out"
[ -z "$(holders 4.1)" ] || lab_die "e4.1 still reserved: $(holders 4.1)"
echo "ok: $out"

"$aoeraid" speed -c "$ctl" max=0 >/dev/null
nbdcopy --flush "$LAB_DIR/more" "$uri" || lab_die "write after the replace stopped failed"
[ "$(readback)" = "$want" ] || lab_die "data differs"
lab_kill 3
[ "$(readback)" = "$want" ] || lab_die "e3.1 gone: data differs"
plugin_stop
echo "ok: every byte right, also with e3.1 gone"
echo "plugin-replace-remove: passed"
