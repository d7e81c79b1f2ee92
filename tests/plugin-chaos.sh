#!/usr/bin/env bash
# No acknowledged write is lost while shelves fail, freeze, come back and are rebuilt under
# load: RAID6 of e1.1-e5.1, 1 MiB bitmap regions.  tests/crash-writer.py writes over the
# first 96 MiB, half the array (16 writes in flight, every sector stamped, 8 MB/s), until
# all of this is over, one after the other:
#   e2.1's vblade dies, writes go on degraded, it comes back and is re-added by itself
#     (only the regions written meanwhile rebuilt);
#   e6.1 is added as a spare, e3.1 is failed by the administrator and e6.1 rebuilds its
#     slot;
#   e4.1 freezes for less than dead-time (retransmits, nothing fails);
#   e5.1 dies while e2.1 is away again: two members missing, the most RAID6 allows, then
#     both come back;
#   e3.1 is added back (a spare now: e6.1 holds its slot).
# No write may fail; then every sector must hold what was written there last, a check must
# find no mismatch, and the same must hold after nbdkit is restarted on the superblocks.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 6 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
log=$LAB_DIR/nbdkit.log
# dead-time=2, and e4.1 frozen for a quarter of it: 1.5 s to spare for a loaded machine
# that runs the thaw late (with dead-time=1 and 0.5 s, half a second of delay failed a
# correct array; a qemu VM of another test beside this one can delay a sleep by a second).
params=(shelves=e1.1,e2.1,e3.1,e4.1,e5.1 level=6 chunk=64K bitmap-chunk=1M control="$ctl"
        dead-time=2 bitmap-delay=1)

plugin_start "$sock" "${params[@]}"
wait_clean "the initial resync"
wait_bitmap_clean 63

writer_start
sleep 2

lab_kill 2
wait_status "^ +1 +e2.1 +faulty"
# an unnamed array is named by its uuid in events
wait_log "event Fail [0-9a-f-]{36} e2.1$" "no Fail event"
echo "ok: e2.1 died under writes and is faulty"
sleep 1
lab_start 2
wait_clean "e2.1's return"
grep -Eq "e2.1 comes back to slot 1; recovery of the [0-9]+ of 63 regions" "$log" ||
  lab_die "e2.1 was not re-added from the bitmap: $(grep e2.1 "$log")"
echo "ok: $(grep -Eo "e2.1 comes back to slot 1; recovery of the [0-9]+ of 63 regions" "$log")"

out=$("$aoeraid" add -c "$ctl" e6.1) || lab_die "aoeraid add e6.1: $out"
wait_status "spares e6.1"

out=$("$aoeraid" fail -c "$ctl" e3.1) || lab_die "aoeraid fail e3.1: $out"
wait_status "^ +2 +e6.1 "
wait_clean "e6.1's recovery of slot 2"
echo "ok: e3.1 failed, the spare e6.1 rebuilt slot 2 under writes"

t0=$(date +%s%3N)
lab_freeze 4
sleep 0.5
lab_thaw 4
froze=$(($(date +%s%3N) - t0))
sleep 2
status | grep >/dev/null -E "^ +3 +e4.1 +active" ||
  lab_die "a freeze shorter than dead-time ($froze ms of 2 s) failed e4.1: $(status)"
echo "ok: e4.1 froze for $froze ms (dead-time 2 s) and stayed in"

lab_kill 5
wait_status "^ +4 +e5.1 +faulty"
lab_kill 2
wait_status "^ +1 +e2.1 +faulty"
echo "ok: e2.1 and e5.1 both gone under writes: $(status | grep -E '^ *state')"
lab_start 5
lab_start 2
wait_clean "the return of e2.1 and e5.1"
echo "ok: both back and rebuilt"

out=$("$aoeraid" add -c "$ctl" e3.1) || lab_die "aoeraid add e3.1: $out"
wait_status "spares e3.1"
writer_verify "every failure"

plugin_stop
plugin_start "$sock" "${params[@]}" spares=e6.1
wait_status "^ +2 +e6.1 +active"
verify_blocks "lost after a restart"
plugin_stop
echo "plugin-chaos: passed"
