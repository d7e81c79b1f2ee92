#!/usr/bin/env bash
# md: a device failed and removed is not taken back by mdadm --incremental.  RAID1 of
# e1.1, e2.1: e2.1's shelf goes down, the admin fails and removes it (its superblock
# cannot be wiped: the shelf is away, and the answer says so) and writes go on.  The array records the removal in
# its superblocks, so e2.1, back with the array's uuid and its old slot, is never taken
# back by itself: not by auto-readd when its shelf comes back (one log line says how to
# use it again), not by a restart by name (the scan leaves it out, unreserved, and
# auto-readd does not adopt it when it comes and goes), not by a restart listing it in
# shelves= (left out, released, not re-added when it comes and goes).  `aoeraid add` takes it: as a
# new spare rebuilt in full, after which it is no longer on the removed list (a restart by
# name finds the array whole on e1.1 and e2.1).  aoeraid examine shows the removed member
# as such, and out of its start command; examined alone, a spare gives no start command
# with an empty shelves=.  A spare removed while its shelf is down is left out likewise,
# and zero-superblock wipes it without --force (its array lists it removed).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 8M 1M
log=$LAB_DIR/nbdkit.log
# e2.1 is not taken back: no re-add or adoption in the log, slot 1 not active, no
# recovery, the data right.
stays_out() {
  ! grep -Eq "e2\.1 (answers and carries|is back: re-adding)|e2\.1 comes back to slot" "$log" ||
    lab_die "$1: removed e2.1 taken back: $(grep "e2.1" "$log" | tail -n 3)"
  status | grep >/dev/null -E "^ +1 +(-|e2.1) +(faulty|missing)" ||
    lab_die "$1: removed e2.1 back in slot 1: $(status)"
  status | grep >/dev/null "spares none" || lab_die "$1: removed e2.1 a spare: $(status)"
  [ "$(readback)" = "$want" ] || lab_die "$1: data differs"
}
left_out_line='e2.1 left out: the administrator removed it from array .vol.; to use it again: aoeraid add -c [^ ]*ctl e2.1'
restart() { plugin_stop; : >"$log"; plugin_start "$sock" "$@" control="$ctl" dead-time=2; }
# back_judged I WHAT: after shelf I's return (shelf_up I 0, shelf_bounce I 0), wait until
# auto-readd has judged it: it says once per return that the shelf stays out (the line for
# e2.1, with eI.1).  Checking that it stayed out then, not after a fixed 3 s.
left_outs() { grep -c "${left_out_line//e2.1/e$1.1}" "$log" || true; }
back_judged() {
  local i=$1 what=$2
  for _ in $(seq 300); do [ "$(left_outs "$i")" -gt "$before" ] && return 0; sleep 0.1; done
  lab_die "$what: the return of e$i.1 untold: $(grep "e$i.1" "$log" | tail -n 3)"
}

plugin_start "$sock" shelves=e1.1,e2.1 level=1 name=vol control="$ctl" dead-time=2
nbdcopy --flush "$LAB_DIR/data" "$uri"

# 1. e2.1's shelf is down when the admin fails and removes it: nothing can be wiped.
shelf_down 2
# a write may have failed it already (the bitmap): then fail says it is no working member
"$aoeraid" fail e2.1 -c "$ctl" || true
status | grep >/dev/null -E "^ +1 +e2.1 +faulty" || lab_die "e2.1 not faulty: $(status)"
ctl_ok remove e2.1
grep -q "e2.1 removed, but its superblock could not be wiped" "$log" ||
  lab_die "remove of the down e2.1: $(tail -n 3 "$log")"
# the admin at the terminal reads no log: the answer says it too, and what to do
grep -q "^removed e2.1 .*; its superblock could not be wiped (.*): the array remembers it removed and leaves it out; to use it elsewhere wipe it with 'aoeraid zero-superblock -i IFACE e2.1'$" <<<"$out" ||
  lab_die "remove of the down e2.1 answered: $out"
# one wording: the log line says what the answer says (they differed)
grep -qF "e2.1 removed, but its superblock${out#*; its superblock}" "$log" ||
  lab_die "the log and the answer of the remove of e2.1 differ: $out / $(grep "e2.1 removed, but" "$log")"
nbdsh -u "$uri" -c "h.pwrite(open('$LAB_DIR/more', 'rb').read(), 0); h.flush()"
before=$(left_outs 2)
shelf_up 2 0
back_judged 2 "the shelf back"
stays_out "its shelf back"
grep -E "e2.1 (removed|left out)" "$log"
echo "ok: removed e2.1 back: auto-readd leaves it out, and says so"

# 2. A restart by name: the scan finds e2.1 (the array's uuid, its old slot) but leaves
# it out and unreserved; when it comes and goes auto-readd does not adopt it.
restart name=vol
grep -q "scan: array 'vol' .* on e1.1$" "$log" ||
  lab_die "restart by name: e2.1 taken: $(grep -E "scan:|e2.1" "$log")"
grep -Eq "scan: $left_out_line" "$log" || lab_die "restart by name: no line for e2.1: $(cat "$log")"
[ -z "$(holders 2.1)" ] || lab_die "restart by name: removed e2.1 reserved: $(holders 2.1)"
grep -E "scan:" "$log"
before=$(left_outs 2)
shelf_bounce 2 0
back_judged 2 "restart by name"
stays_out "restart by name"
[ -z "$(holders 2.1)" ] || lab_die "restart by name: removed e2.1 reserved: $(holders 2.1)"
echo "ok: restart by name: removed e2.1 left out, not adopted when it comes back"

# 3. A restart listing e2.1 in shelves=: left out at assembly, not re-added on its return.
restart shelves=e1.1,e2.1
grep -Eq "member e2.1 .*removed.*by the administrator.*left out" "$log" ||
  lab_die "restart with shelves=: no line for e2.1: $(cat "$log")"
[ -z "$(holders 2.1)" ] || lab_die "restart with shelves=: removed e2.1 reserved: $(holders 2.1)"
before=$(left_outs 2)
shelf_bounce 2 0
back_judged 2 "restart with shelves="
stays_out "restart with shelves="
grep -E "e2.1 .*(removed|left out)" "$log"
echo "ok: restart with shelves=e1.1,e2.1: removed e2.1 left out, not re-added"

# aoeraid examine: e2.1 removed, out of the start command; e1.1 lists it removed.
lab_exec "$aoeraid" examine -i h0 e1.1 e2.1 >"$LAB_DIR/ex.txt" || lab_die "examine: $(cat "$LAB_DIR/ex.txt")"
grep -Eq "^  slot 1  +e2.1 +events [0-9]+ +removed: removed by the administrator.*aoeraid add -c SOCK e2.1" \
  "$LAB_DIR/ex.txt" || lab_die "examine: e2.1 not shown removed: $(cat "$LAB_DIR/ex.txt")"
grep -q "^  start: nbdkit aoeraid shelves=e1.1$" "$LAB_DIR/ex.txt" ||
  lab_die "examine: the start command takes e2.1: $(cat "$LAB_DIR/ex.txt")"
grep -Eq "^ +removed : [0-9a-f-]{36}$" "$LAB_DIR/ex.txt" || lab_die "examine: no removed list"
echo "ok: examine shows e2.1 removed and leaves it out of the start command"

# 4. The admin adds it: a new spare, rebuilt in full, off the removed list.
ctl_ok add e2.1
grep >/dev/null "added e2.1 as a spare" <<<"$out" || lab_die "add e2.1 answered: $out"
wait_recovered 1 e2.1
grep -q "spare e2.1 takes slot 1; recovery starts" "$log" ||
  lab_die "e2.1 added was not rebuilt in full: $(grep "e2.1" "$log" | tail -n 3)"
[ "$(readback)" = "$want" ] || lab_die "e2.1 rebuilt: data differs"
restart name=vol
grep -q "scan: array 'vol' .* on e1.1, e2.1$" "$log" ||
  lab_die "e2.1 added back is not found by name: $(grep -E "scan:|e2.1" "$log")"
grep -q "left out" "$log" && lab_die "e2.1 added back still left out: $(grep "left out" "$log")"
status | grep >/dev/null -E "^ +1 +e2.1 +active" || lab_die "e2.1 not active: $(status)"
[ "$(readback)" = "$want" ] || lab_die "restart: data differs"
examine_to "$LAB_DIR/ex1.txt" e1.1
! grep -Eq "^ +removed : " "$LAB_DIR/ex1.txt" || lab_die "e2.1 still listed removed: $(cat "$LAB_DIR/ex1.txt")"

# A spare examined alone: no member to start from, no empty shelves=.
ctl_ok add e3.1
lab_exec "$aoeraid" examine -i h0 e3.1 >"$LAB_DIR/ex.txt" || lab_die "examine e3.1: $(cat "$LAB_DIR/ex.txt")"
grep -q "^  start: none: no shelf examined is a member" "$LAB_DIR/ex.txt" ||
  lab_die "examine of a lone spare: $(grep "start:" "$LAB_DIR/ex.txt")"
lab_exec "$aoeraid" examine -i h0 --json e3.1 | grep -q '"command":null' ||
  lab_die "examine --json of a lone spare: a command"
echo "ok: a spare examined alone: no start command"

# The spare e3.1 removed while its shelf is down (not wiped) and back: left out, and
# zero-superblock wipes it without --force, as the array lists it removed.
shelf_down 3
ctl_ok remove e3.1
grep -q "spare e3.1 removed, but its superblock could not be wiped" "$log" ||
  lab_die "remove of the down spare e3.1: $(tail -n 3 "$log")"
grep -q "^removed e3.1; its shelf is released; its superblock could not be wiped (.*): the array remembers it removed and leaves it out; to use it elsewhere wipe it with 'aoeraid zero-superblock -i IFACE e3.1'$" <<<"$out" ||
  lab_die "remove of the down spare e3.1 answered: $out"
grep -qF "spare e3.1 removed, but its superblock${out#*; its superblock}" "$log" ||
  lab_die "the log and the answer of the remove of e3.1 differ: $out / $(grep "e3.1 removed, but" "$log")"
before=$(left_outs 3)
shelf_up 3 0
back_judged 3 "the removed spare e3.1 back"
status | grep >/dev/null "spares none" || lab_die "removed e3.1 a spare again: $(status)"
[ -z "$(holders 3.1)" ] || lab_die "removed e3.1 reserved: $(holders 3.1)"
out=$(lab_exec "$aoeraid" zero-superblock -i h0 e3.1 2>&1) || lab_die "zero-superblock e3.1: $out"
grep -q "^e3.1: wiped a member (a spare) of array 'vol' .* that its administrator removed" <<<"$out" ||
  lab_die "zero-superblock e3.1 answered: $out"
echo "ok: removed spare e3.1: left out when back, wiped by zero-superblock without --force"
plugin_stop
echo "plugin-removed-down: passed"
