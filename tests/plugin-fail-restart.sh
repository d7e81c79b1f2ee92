#!/usr/bin/env bash
# md: a device the admin failed stays out after a reassembly (mdadm re-adds it only when
# told).  RAID1 of e1.1, e2.1: the admin fails e2.1 (a disk going bad) and writes go on.
# The superblocks record it failed, so a restart with the same shelves= (auto-readd on)
# leaves it out with one line saying how to take it back (status shows it failed by the
# administrator), and auto-readd does not take it
# when its shelf comes and goes; force=true does not either (the array starts without it).
# aoeraid examine shows it failed.  `aoeraid add` takes it back (re-added from the bitmap),
# after which a restart finds the array whole.  With a spare: e2.1 failed again, the spare
# e3.1 takes slot 1; a restart leaves e2.1 out; removed (down, so not wiped), a restart
# finds it on the removed list instead.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

# 32 MiB shelves hold the 8 MiB of data; each rebuild runs over whole shelves (64 MiB ones
# took twice as long)
lab_up -n 3 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 8M 1M
log=$LAB_DIR/nbdkit.log
failed_line='vol: e2.1 was failed by the administrator \(aoeraid fail\); left out: aoeraid add e2.1 takes it back'
restart() { plugin_stop; : >"$log"; plugin_start "$sock" "$@" control="$ctl" dead-time=2; }
# e2.1 is not taken back: no re-add in the log, slot 1 not active, the data right.
stays_out() {
  ! grep -Eq "e2\.1 is back: re-adding|e2\.1 comes back to slot|e2\.1 .*taken back" "$log" ||
    lab_die "$1: failed e2.1 taken back: $(grep "e2.1" "$log" | tail -n 3)"
  status | grep >/dev/null -E "^ +1 +(-|e2.1) +(faulty|missing)" ||
    lab_die "$1: failed e2.1 back in slot 1: $(status)"
  status | grep >/dev/null "spares none" || lab_die "$1: failed e2.1 a spare: $(status)"
  [ "$(readback)" = "$want" ] || lab_die "$1: data differs"
}

plugin_start "$sock" shelves=e1.1,e2.1 level=1 name=vol control="$ctl" dead-time=2
nbdcopy --flush "$LAB_DIR/data" "$uri"
ctl_ok fail e2.1
nbdsh -u "$uri" -c "h.pwrite(open('$LAB_DIR/more', 'rb').read(), 0); h.flush()"

# 1. A restart with the same shelves=: left out, said once; not re-added when its shelf
# comes and goes.
restart shelves=e1.1,e2.1
wait_log "$failed_line" "restart: no line says why e2.1 stays out"
[ "$(grep -c "e2\.1 was failed by the administrator" "$log")" = 1 ] ||
  lab_die "restart: e2.1's line not said once: $(grep "e2.1" "$log")"
status | grep >/dev/null -E "^  failed by the administrator: e2.1 \(left out; aoeraid add e2.1 takes it back\)$" ||
  lab_die "restart: status does not show e2.1 failed: $(status)"
"$aoeraid" status --json -c "$ctl" | grep -q '"admin_failed":\["e2.1"\]' ||
  lab_die "restart: status --json: no admin_failed"
# 1 s: auto-readd looks every 250 ms (a failed shelf back is left out silently: no line to
# wait for)
shelf_bounce 2 1
stays_out "restart, e2.1's shelf back"
grep -E "e2.1 .*left out" "$log"
echo "ok: restart with shelves=e1.1,e2.1: failed e2.1 left out, not re-added on its return"

# 2. force=true: the array starts without e2.1, so force does not take it back.
restart shelves=e1.1,e2.1 force=true
wait_log "$failed_line" "restart with force: no line for e2.1"
stays_out "restart with force=true"
echo "ok: force=true leaves failed e2.1 out (the array starts without it)"

# 3. aoeraid examine: e2.1 failed, e1.1 lists it.
lab_exec "$aoeraid" examine -i h0 e1.1 e2.1 >"$LAB_DIR/ex.txt" || lab_die "examine: $(cat "$LAB_DIR/ex.txt")"
grep -Eq "^  slot 1  +e2.1 +events [0-9]+ +failed: failed by the administrator.*aoeraid add -c SOCK e2.1" \
  "$LAB_DIR/ex.txt" || lab_die "examine: e2.1 not shown failed: $(cat "$LAB_DIR/ex.txt")"
grep -Eq "^ +failed : [0-9a-f-]{36}$" "$LAB_DIR/ex.txt" || lab_die "examine: no failed list: $(cat "$LAB_DIR/ex.txt")"
lab_exec "$aoeraid" examine -i h0 --json e1.1 e2.1 >"$LAB_DIR/ex.json"
grep -Eq '"failed":\["[0-9a-f-]{36}"\]' "$LAB_DIR/ex.json" || lab_die "examine --json: no failed list"
grep -Eq '"slot":1,"shelf":"e2.1"[^}]*"failed":true' "$LAB_DIR/ex.json" ||
  lab_die "examine --json: slot 1 not failed: $(cat "$LAB_DIR/ex.json")"
echo "ok: examine shows e2.1 failed"

# 4. The admin adds it: back in slot 1 from the bitmap, off the failed list.
ctl_ok add e2.1
wait_recovered 1 e2.1
grep -q "e2.1 comes back to slot 1" "$log" ||
  lab_die "e2.1 added was not re-added from the bitmap: $(grep "e2.1" "$log" | tail -n 3)"
[ "$(readback)" = "$want" ] || lab_die "e2.1 re-added: data differs"
restart shelves=e1.1,e2.1
status | grep >/dev/null -E "^ +1 +e2.1 +active" || lab_die "e2.1 added back not active: $(status)"
status | grep -q "failed by the administrator" && lab_die "e2.1 added back: status: $(status)"
grep -q "failed by the administrator" "$log" && lab_die "e2.1 added back still failed: $(grep "e2.1" "$log")"
examine_to "$LAB_DIR/ex1.txt" e1.1
! grep -Eq "^ +failed : " "$LAB_DIR/ex1.txt" || lab_die "e2.1 still listed failed: $(cat "$LAB_DIR/ex1.txt")"
echo "ok: add takes e2.1 back; a restart finds the array whole"

# 5. With a spare: e3.1 takes the failed e2.1's slot; a restart leaves e2.1 out; removed
# (its shelf down: not wiped), it moves to the removed list.
ctl_ok add e3.1
ctl_ok fail e2.1
wait_recovered 1 e3.1
restart shelves=e1.1,e2.1,e3.1
wait_log "$failed_line" "restart with the spare in its slot: no line for e2.1"
shelf_bounce 2 1
status | grep >/dev/null -E "^ +1 +e3.1 +active" || lab_die "e3.1 not in slot 1: $(status)"
status | grep >/dev/null "^  failed by the administrator: e2.1 " || lab_die "e2.1 not shown failed: $(status)"
! grep -Eq "e2\.1 is back: re-adding" "$log" || lab_die "failed e2.1 re-added: $(grep e2.1 "$log")"
status | grep >/dev/null "spares none" || lab_die "failed e2.1 a spare: $(status)"
shelf_down 2              # not wiped by the remove: its superblock still names slot 1
ctl_ok remove e2.1
shelf_up 2 0
# auto-readd judged its return (said once per return), rather than 3 s of looks
wait_log "e2\.1 left out: the administrator removed it" "removed e2.1 back: its return untold"
restart shelves=e1.1,e2.1,e3.1
wait_log "member e2.1 was removed by the administrator" "removed e2.1: not on the removed list"
grep -q "e2\.1 was failed by the administrator" "$log" && lab_die "removed e2.1 still failed"
[ "$(readback)" = "$want" ] || lab_die "e3.1 in slot 1: data differs"
echo "ok: with a spare in its slot, failed e2.1 stays out; removed, it is on the removed list"
plugin_stop
echo "plugin-fail-restart: passed"
