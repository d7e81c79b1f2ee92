#!/usr/bin/env bash
# md: a removed device stays removed.  A mirror started by name alone (no list of its
# shelves: auto-readd takes shelves that answer later carrying its uuid) has its spare
# e3.1 removed and its member e2.1 failed and removed; each shelf then goes away and comes
# back: neither is taken back (adopted, re-added or reserved) until `aoeraid add`.  After
# a restart by name the removed spare stays out too (its superblock was wiped), and so
# does a replaced member once removed: no start by name serves the old copy it holds.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

# 32 MiB shelves hold the 8 MiB of data; each rebuild runs over whole shelves (64 MiB ones
# took twice as long)
lab_up -n 3 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 8M 1M
log=$LAB_DIR/nbdkit.log
taken_back() {
  ! grep -Eq "${1//./\\.} (answers and carries|is back: re-adding)" "$log" ||
    lab_die "removed $1 taken back: $(grep -wF "$1" "$log" | tail -n 3)"
  [ -z "$(holders "${1#e}")" ] || lab_die "removed $1 is reserved again: $(holders "${1#e}")"
}

plugin_start "$sock" shelves=e1.1,e2.1 spares=e3.1 level=1 name=vol
nbdcopy --flush "$LAB_DIR/data" "$uri"
plugin_stop
: >"$log"
plugin_start "$sock" name=vol control="$ctl" dead-time=2
grep -q "scan: array 'vol' .* on e1.1, e2.1, spare e3.1$" "$log" || lab_die "scan: $(cat "$log")"

ctl_ok remove e3.1
# and 1 s: auto-readd looks every 250 ms, so 4 looks (a wiped shelf back is left out
# silently: no line to wait for)
shelf_bounce 3 1
status | grep >/dev/null "spares none" || lab_die "removed spare e3.1 is back: $(status)"
taken_back e3.1
echo "ok: spare e3.1 removed, its shelf back: it stays out"

ctl_ok fail e2.1
ctl_ok remove e2.1
grep -q "e2.1 removed: its superblock is wiped" "$log" || lab_die "e2.1 not wiped: $(cat "$log")"
# both wiped: nothing of them can come back, so the removed list keeps its room for those
# that could (a shelf away when removed)
examine_to "$LAB_DIR/ex1.txt" e1.1
! grep -Eq "^ +removed : " "$LAB_DIR/ex1.txt" ||
  lab_die "wiped e2.1 or e3.1 still listed removed: $(cat "$LAB_DIR/ex1.txt")"
shelf_bounce 2 1
status | grep >/dev/null -E "^ +1 +(e2.1 +)?faulty" || lab_die "e2.1 back in slot 1: $(status)"
taken_back e2.1
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "data differs"
echo "ok: member e2.1 failed and removed, its shelf back: it stays out"

# ... also after a restart by name: the removed shelves' superblocks were wiped, so the
# scan finds blank shelves, not a spare to rebuild slot 1 onto, nor a stale member that
# auto-readd would put back when its shelf comes and goes.
plugin_stop
: >"$log"
plugin_start "$sock" name=vol control="$ctl" dead-time=2
grep -q "scan: array 'vol' .* on e1.1$" "$log" ||
  lab_die "restart by name: a removed shelf is found: $(grep "scan:" "$log")"
shelf_bounce 2 1
taken_back e2.1
status | grep >/dev/null -E "^ +1 +(-|e2.1) +(faulty|missing)" || lab_die "restart: removed e2.1 back: $(status)"
status | grep >/dev/null "spares none" || lab_die "restart: removed e3.1 a spare again: $(status)"
status | grep >/dev/null -E "^ +1 +e3\.1" && lab_die "restart: removed e3.1 in slot 1: $(status)"
taken_back e3.1
echo "ok: restart by name: the removed spare e3.1 and member e2.1 stay out"

ctl_ok add e3.1
wait_recovered 1 e3.1
echo "ok: e3.1 added by the admin: it rebuilds slot 1"

# A replaced member, removed, is wiped too: with the array's shelves away, a start by
# name must not find it and serve the old copy it holds (nor take it back later).
ctl_ok add e2.1
ctl_ok replace e1.1 e2.1
wait_recovered 0 e2.1
ctl_ok remove e1.1
grep -q "e1.1 removed: its superblock is wiped" "$log" || lab_die "e1.1 not wiped: $(cat "$log")"
plugin_stop
lab_kill 2
lab_kill 3
out=$(plugin_run name=vol -- true 2>&1) && lab_die "started from the removed e1.1 alone: $out"
grep -q "no shelf holds the array 'vol'" <<<"$out" || lab_die "e1.1 alone: $out"
echo "ok: replaced e1.1 removed: a start by name without the array's shelves finds nothing"
