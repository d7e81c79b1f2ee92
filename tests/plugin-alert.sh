#!/usr/bin/env bash
# Events, as mdadm --monitor reports them, through alert=PROGRAM: RAID5 of e1.1-e3.1 with
# e4.1 as a spare, slow resync and recovery (so a look sees them run).  The program is
# run with TestMessage at start (alert-test), the initial resync's start and end, e2.1
# failed by the administrator (Fail, DegradedArray), the spare's rebuild (RebuildStarted,
# SpareActive, RebuildFinished), a check (RebuildFinished ... mismatches=0) and e3.1's
# shelf dying and coming back while the array idles (ShelfDown, DegradedArray, ShelfUp),
# in that order; each event is in the log too, and a program that exits non-zero is
# named there.
# Refused at start: a program that does not exist, a directory, one that cannot be run.
# A program that hangs is killed after its time, and the next event reaches it again.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 0
alerts=$LAB_DIR/alerts
cat >"$LAB_DIR/alert.sh" <<EOS
#!/bin/sh
echo "\$*" >>"$alerts"
[ "\$1" != TestMessage ] || exit 3
EOS
chmod +x "$LAB_DIR/alert.sh"
touch "$LAB_DIR/not-executable"

plugin_fails "alert= a missing program" \
  "alert=$LAB_DIR/nope: No such file or directory: give an executable program" \
  shelves=e1.1,e2.1 level=1 alert="$LAB_DIR/nope"
plugin_fails "alert= a directory" \
  "alert=$LAB_DIR: not a regular file: give an executable program" \
  shelves=e1.1,e2.1 level=1 alert="$LAB_DIR"
plugin_fails "alert= a file that cannot be run" \
  "alert=$LAB_DIR/not-executable: Permission denied: give an executable program" \
  shelves=e1.1,e2.1 level=1 alert="$LAB_DIR/not-executable"

# Wait (bounded) until the program was called with a line matching $1.
wait_alert() {
  for _ in $(seq 300); do grep -Eq "$1" "$alerts" 2>/dev/null && return 0; sleep 0.1; done
  lab_die "no event '$1' came: $(cat "$alerts" 2>/dev/null)"
}

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 spares=e4.1 level=5 chunk=64K name=vol \
  control="$ctl" sync-speed-min=20M sync-speed-max=20M alert="$LAB_DIR/alert.sh" alert-test=true \
  dead-time=2 bitmap-chunk=1M bitmap-delay=1
wait_alert "^RebuildFinished vol resync$"
nbdcopy --flush "$LAB_DIR/data" "$uri"
out=$("$aoeraid" fail -c "$ctl" e2.1) || lab_die "aoeraid fail e2.1: $out"
wait_recovered 1 e4.1
wait_alert "^RebuildFinished vol recovery$"
out=$("$aoeraid" check -c "$ctl") || lab_die "aoeraid check: $out"
wait_alert "^RebuildFinished vol check"
[ "$(readback)" = "$want" ] || lab_die "data differs"
wait_bitmap_clean 63       # idle: no bitmap update will miss e3.1 and fail it
lab_kill 3
wait_alert "^ShelfDown vol e3.1$"
lab_start 3
wait_alert "^ShelfUp vol e3.1$"
plugin_stop

echo "the program was called with:"; cat "$alerts"
grep -Eq "^Rebuild(20|40|60|80) vol (resync|recovery)$" "$alerts" ||
  lab_die "no progress event (Rebuild20 ... Rebuild80) of the slow resync or recovery"
diff -u - <(grep -Ev "^Rebuild[0-9]+ " "$alerts") <<EOS || lab_die "not the events expected"
TestMessage vol
RebuildStarted vol resync
RebuildFinished vol resync
Fail vol e2.1
DegradedArray vol
RebuildStarted vol recovery
SpareActive vol e4.1
RebuildFinished vol recovery
RebuildStarted vol check
RebuildFinished vol check mismatches=0
ShelfDown vol e3.1
DegradedArray vol
ShelfUp vol e3.1
EOS
grep -q "event Fail vol e2.1" "$LAB_DIR/nbdkit.log" || lab_die "the log does not name the events"
grep -q "alert=$LAB_DIR/alert.sh: exited with status 3 for TestMessage" "$LAB_DIR/nbdkit.log" ||
  lab_die "the log does not say the program failed"
# A program that hangs is killed after its time (-D aoeraid.alert_wait_ms, a minute by
# default) and the events after it still reach it.
cat >"$LAB_DIR/hang.sh" <<EOH
#!/bin/sh
echo "\$\$ \$*" >>"$LAB_DIR/hang.calls"
exec sleep 60
EOH
chmod +x "$LAB_DIR/hang.sh"
AOERAID_NBDKIT_OPTS="-D aoeraid.alert_wait_ms=500" \
  plugin_start "$sock" shelves=e1.1,e2.1,e3.1 spares=e4.1 control="$ctl" \
  sync-speed-min=20M sync-speed-max=20M alert="$LAB_DIR/hang.sh" alert-test=true
wait_log "hang.sh: still running after 0\.5 s for TestMessage: killed it" \
  "a hung alert program was not killed"
read -r hung _ <"$LAB_DIR/hang.calls"
! lab_alive "$hung" || lab_die "the hung program $hung still runs"
out=$("$aoeraid" check -c "$ctl") || lab_die "aoeraid check: $out"
for _ in $(seq 300); do grep -q " RebuildStarted vol check$" "$LAB_DIR/hang.calls" && break; sleep 0.1; done
grep -q " RebuildStarted vol check$" "$LAB_DIR/hang.calls" ||
  lab_die "no event reached the program after the kill: $(cat "$LAB_DIR/hang.calls")"
plugin_stop
echo "plugin-alert: passed"
