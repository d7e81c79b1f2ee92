#!/usr/bin/env bash
# md's --fail and --remove through `aoeraid fail` and `aoeraid remove`: RAID5 of e1.1-e3.1
# with e4.1 as a spare.  The spare is removed (it was reserved: now released); e2.1 is
# failed (no spare left: degraded); failing e3.1 too is refused, as is removing a working
# member; e2.1 is removed (released); removing e4.1 or e2.1 again answers that it was
# removed already; e4.1 added back takes slot 1.  e3.1's shelf then dies
# under writes and is removed: when it comes back it stays out (auto-readd leaves removed
# shelves alone) until added.  e2.1 added waits as a spare and takes over when e4.1 is
# failed.  Every byte reads right throughout.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 32M 1M
mac=$(lab_host_mac h0)
ctl_refused() {
  local regex=$1; shift
  out=$("$aoeraid" "$@" -c "$ctl" 2>&1) && lab_die "aoeraid $* was not refused: $out"
  echo "$out" | grep >/dev/null -E "$regex" || lab_die "aoeraid $*: expected '$regex', got: $out"
  echo "ok: refused: $*: $out"
}

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 spares=e4.1 level=5 chunk=64K control="$ctl" \
  dead-time=2
nbdcopy --flush "$LAB_DIR/data" "$uri"
[ "$(holders 4.1)" = "$mac" ] || lab_die "the spare e4.1 is not reserved by us: $(holders 4.1)"

ctl_ok remove e4.1
status | grep >/dev/null "spares none" || lab_die "e4.1 still a spare: $(status)"
ctl_ok remove e4.1
grep >/dev/null "^e4.1 was removed already; its shelf is released" <<<"$out" ||
  lab_die "removing the removed spare e4.1 again answered: $out"
[ -z "$(holders 4.1)" ] || lab_die "removed e4.1 is still reserved: $(holders 4.1)"

ctl_ok fail e2.1
echo "$out" | grep >/dev/null "e2.1 marked faulty; give the array a shelf to rebuild onto" ||
  lab_die "fail e2.1 answered: $out"
status | grep >/dev/null -E "^ +1 +e2.1 +faulty" || lab_die "e2.1 not faulty: $(status)"
grep -q "member e2.1 (slot 1) failed by the administrator" "$LAB_DIR/nbdkit.log" ||
  lab_die "the log does not say who failed e2.1"
ctl_refused "failing e3.1 would leave raid5 .* without the members it needs" fail e3.1
ctl_refused "e9.1 is not a working member" fail e9.1
ctl_refused "e3.1 is a working member: fail it first" remove e3.1
ctl_refused "'x' is not a shelf address" remove x
ctl_ok remove e2.1
[ -z "$(holders 2.1)" ] || lab_die "removed e2.1 is still reserved: $(holders 2.1)"
ctl_ok remove e2.1
grep >/dev/null "^e2.1 was removed already; its shelf is released" <<<"$out" ||
  lab_die "removing the removed member e2.1 again answered: $out"
ctl_ok add e4.1
wait_recovered 1 e4.1

# e3.1 dies under a write, is removed, and its shelf comes back: it stays out.
lab_kill 3
nbdsh -u "$uri" -c "h.pwrite(open('$LAB_DIR/more', 'rb').read(), 0); h.flush()" ||
  lab_die "writing with e3.1 gone failed"
shelf_is() { status | grep >/dev/null -E "^ +2 +e3.1 +[a-z]+ .* $1 "; }
for _ in $(seq 300); do shelf_is down && break; sleep 0.1; done
shelf_is down || lab_die "e3.1 not faulty and down: $(status)"
ctl_ok remove e3.1
lab_start 3
for _ in $(seq 300); do shelf_is up && break; sleep 0.1; done
shelf_is up || lab_die "e3.1's shelf not seen up again: $(status)"
sleep 2          # the monitor looks every 250 ms
status | grep >/dev/null -E "^ +2 +e3.1 +faulty .* up " || lab_die "removed e3.1 came back by itself: $(status)"
grep -q "e3\.1 is back" "$LAB_DIR/nbdkit.log" && lab_die "auto-readd took a removed shelf"
echo "ok: removed e3.1 came back up and stayed out"
ctl_ok add e3.1
wait_recovered 2 e3.1
[ "$(readback)" = "$want" ] || lab_die "e3.1 added back: data differs"

ctl_ok add e2.1
status | grep >/dev/null "spares e2.1" || lab_die "e2.1 not a spare: $(status)"
[ "$(holders 2.1)" = "$mac" ] || lab_die "e2.1 added back is not reserved: $(holders 2.1)"
ctl_ok fail e4.1
echo "$out" | grep >/dev/null "recovery onto a spare starts" || lab_die "fail e4.1 answered: $out"
wait_recovered 1 e2.1
[ "$(readback)" = "$want" ] || lab_die "rebuilt onto e2.1: data differs"
plugin_stop
echo "plugin-fail-remove: passed"
