#!/usr/bin/env bash
# auto-readd=false: a shelf that drops out and comes back stays out (the array stays
# degraded) until `aoeraid add` gives it back, as before auto-readd.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 60
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 2 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 4M 1M

plugin_start "$sock" shelves=e1.1,e2.1 level=1 chunk=64K bitmap-chunk=1M control=$ctl \
  dead-time=2 auto-readd=false
nbdcopy --flush "$LAB_DIR/data" "$uri"
lab_kill 2
nbdcopy --flush "$LAB_DIR/more" "$uri" || lab_die "writing with e2.1 gone failed"
status | grep >/dev/null -E "^ +1 +e2.1 +faulty" || lab_die "e2.1 is not faulty: $(status)"

lab_start 2
# The shelf answers again (status shows it up), and is left out all the same.
for _ in $(seq 300); do status | grep >/dev/null -E "^ +1 +e2.1 +faulty .* up " && break; sleep 0.1; done
status | grep >/dev/null -E "^ +1 +e2.1 +faulty .* up " || lab_die "e2.1 did not come back up: $(status)"
sleep 3
out=$(status)
echo "$out" | grep >/dev/null "state degraded" && echo "$out" | grep >/dev/null -E "^ +1 +e2.1 +faulty" ||
  lab_die "auto-readd=false, yet e2.1 was re-added: $out"
! grep -q "e2\.1 is back" "$LAB_DIR/nbdkit.log" ||
  lab_die "auto-readd=false, yet: $(grep "is back" "$LAB_DIR/nbdkit.log")"
echo "ok: auto-readd=false: e2.1 is up again and stays out, the array degraded"

added=$("$aoeraid" add -c "$ctl" e2.1) || lab_die "add e2.1 failed: $added"
wait_recovered 1 e2.1
[ "$(readback)" = "$want" ] || lab_die "after aoeraid add: data differs"
echo "ok: aoeraid add puts it back: $added"
plugin_stop
echo "plugin-rebuild-autoreadd-off: passed"
