#!/usr/bin/env bash
# `aoeraid fail` of a second member while the spare rebuilds the first (RAID6 of 4 and one
# spare): the answer must not promise a recovery onto a spare (the only one is taken),
# but ask for a shelf, and status shows the slot faulty with no spare; `add` of a shelf
# then rebuilds it after the first recovery.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 6 -s 32M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 0
plugin_start "$sock" shelves=e1.1,e2.1,e3.1,e4.1 spares=e5.1 level=6 name=six \
  control="$ctl" sync-speed-min=2M sync-speed-max=2M
wait_clean "the first resync" 90
nbdcopy --flush "$LAB_DIR/data" "$uri"
ctl_ok fail e1.1
grep -q "e1.1 marked faulty; recovery onto a spare starts" <<<"$out" || lab_die "fail e1.1 answered: $out"
wait_status "recovery slot 0 \(e5.1\)"
ctl_ok fail e2.1
grep -q "e2.1 marked faulty; give the array a shelf to rebuild onto with aoeraid add" <<<"$out" ||
  lab_die "fail e2.1, with the only spare taken, answered: $out"
status | grep >/dev/null -E "^ +1 +e2.1 +faulty" || lab_die "e2.1 not faulty: $(status)"
ctl_ok add e6.1
"$aoeraid" speed -c "$ctl" min=0 max=0 >/dev/null
wait_recovered 0 e5.1
wait_recovered 1 e6.1
[ "$(readback)" = "$want" ] || lab_die "after both recoveries: data differs"
plugin_stop
echo "plugin-fail-second: passed"
