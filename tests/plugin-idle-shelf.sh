#!/usr/bin/env bash
# A shelf that dies while the array is idle is noticed without any I/O (the initiator's
# keepalives): RAID1 of e1.1 and e2.1 with the spare e3.1, dead-time=2, 1 MiB bitmap
# regions.  The spare's shelf dies: status says so.  e2.1 dies: status shows it down
# within a bound, with no I/O; the first write then does not wait for the dead time, fails
# e2.1, and is not rebuilt onto the dead spare; e2.1 restarted is re-added from the bitmap.
# Then e2.1 dies and comes back while idle, its superblock unreadable for a moment: status
# shows it down, then up, and the array, never written meanwhile, needed no recovery
# (events unchanged, nothing re-added: one line says it is back in its slot).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 2M
log=$LAB_DIR/nbdkit.log
dead=2
ms() { date +%s%3N; }
events() { status | sed -n 's/.* events \([0-9]*\)$/\1/p'; }
# Poll status (no I/O) up to 4 dead times until it matches REGEX; $took: ms it took.
wait_status() {
  local regex=$1 what=$2 t0
  t0=$(ms)
  for _ in $(seq $((dead * 40))); do
    status | grep >/dev/null -E "$regex" && break
    sleep 0.1
  done
  status | grep >/dev/null -E "$regex" || lab_die "$what: not within $((4 * dead)) s: $(status)"
  took=$(($(ms) - t0))
}

plugin_start "$sock" shelves=e1.1,e2.1 spares=e3.1 level=1 chunk=64K bitmap-chunk=1M \
  control=$ctl dead-time=$dead bitmap-delay=1
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_bitmap_clean 63
echo "ok: 16 MiB written, idle, every region clean again"

# The spare's shelf dies while idle: status says so.  e2.1's dies with it (checked below):
# their dead times run at once.
lab_kill 3
lab_kill 2
wait_status "^  spares e3.1 \(shelf down\)$" "the spare's shelf down"
echo "ok: the spare's shelf killed: status shows it $took ms later: $(status | grep spares)"
since_kill=$took

# e2.1 dies while idle: shown down with no I/O, its role "down" (not failed: it missed
# no write), not "faulty".
wait_status "^ +1 +e2.1 +down .* down " "e2.1 down"
grep -q "e2.1: no answer to keepalives for [0-9]* ms (dead time 2000 ms): shelf declared down" \
  "$log" || lab_die "no keepalive line for e2.1: $(grep e2.1 "$log")"
echo "ok: e2.1 killed while idle: status shows it down $((since_kill + took)) ms later"

# The first write does not wait for the dead time: e2.1 is known down (and so is the
# spare, whose superblock is written when e2.1 fails).  Timed inside nbdsh, around the
# write and its flush only: Python's start and the connection are no part of it (on a
# loaded machine they alone can take most of the bound).
took=$(nbdsh -u "$uri" -c "
import time
data = open('$LAB_DIR/more', 'rb').read()
t0 = time.monotonic()
h.pwrite(data, 8 << 20)
h.flush()
print(int((time.monotonic() - t0) * 1000))
") || lab_die "the first write after the outage failed"
[ "$took" -lt $((dead * 1000 / 2)) ] ||
  lab_die "the first write after the outage took $took ms (dead time ${dead} s)"
cp "$LAB_DIR/data" "$LAB_DIR/want"
dd if="$LAB_DIR/more" of="$LAB_DIR/want" bs=1M seek=8 conv=notrunc status=none
want=$(md5sum <"$LAB_DIR/want")
grep -q "member e2.1 (slot 1) failed: it is down and missed a write" "$log" ||
  lab_die "e2.1 not failed by the write: $(grep e2.1 "$log")"
status | grep >/dev/null -E "^ +1 +e2.1 +faulty .* down " || lab_die "failed e2.1 not faulty: $(status)"
status | grep >/dev/null "bitmap 2 of 63 regions dirty" || lab_die "expected 2 dirty regions: $(status)"
! grep -q "spare e3\.1 takes slot" "$log" || lab_die "the dead spare was rebuilt onto"
[ "$(readback)" = "$want" ] || lab_die "e1.1 alone: data differs"
echo "ok: the first write took $took ms, failed e2.1 and was not rebuilt onto the dead spare; e1.1 alone serves every byte"

lab_start 2
wait_recovered 1 e2.1
grep -Eq "e2.1 comes back to slot 1; recovery of the 2 of 63 regions" "$log" ||
  lab_die "e2.1 was not re-added from the bitmap: $(grep -i "slot 1" "$log")"
[ "$(readback)" = "$want" ] || lab_die "after the bitmap recovery: data differs"
echo "ok: e2.1 restarted: re-added by itself, its 2 dirty regions rebuilt, data verified"

# e2.1 restarted while idle: down, then up; never written meanwhile, nothing to recover.
wait_bitmap_clean 63
before=$(events) readds=$(grep -c "e2\.1 is back" "$log") recoveries=$(grep -c "recovery finished" "$log")
lab_kill 2
wait_status "^ +1 +e2.1 +down .* down " "e2.1 down again"
echo "ok: e2.1 killed while idle: down $took ms later"
# It comes back with its superblock unreadable at first, so that auto-readd meets it up
# before its disk is proven its own (the look that once tried to re-add it and was refused:
# "already in the array"); left to chance, the proof came first and the check below passed
# with that bug.  Its image is cut short behind vblade's back (vblade keeps the size it
# read at its start; reads past the cut fail with ABRT), its port off the bridge meanwhile
# so that its announce is not met before the cut; then the image is made whole again.
cp "${LAB_IMG[2]}" "$LAB_DIR/img2"
ip -n "$LAB_PREFIX-san" link set s2-0 nomaster
lab_start 2
truncate -s 4096 "${LAB_IMG[2]}"
ip -n "$LAB_PREFIX-san" link set s2-0 master br0
wait_status "^ +1 +e2.1 +down .* up " "e2.1 up, its disk not yet proven"
sleep 1.5   # the auto-readd thread looks every 250 ms: it meets e2.1 up and unreadable
status | grep >/dev/null -E "^ +1 +e2.1 +down .* up " ||
  lab_die "e2.1 proven its own while its superblock could not be read: $(status)"
dd if="$LAB_DIR/img2" of="${LAB_IMG[2]}" bs=1M conv=notrunc status=none
wait_status "^ +1 +e2.1 +active .* up " "e2.1 back up"
wait_log "e2\.1 answers again: back in slot 1 with its own disk" "e2.1 back in its slot"
sleep 1     # a look of the monitor's, were it to re-add or recover anything
out=$(status)
echo "$out" | grep >/dev/null "state clean" || lab_die "not clean after an idle restart: $out"
[ "$(events)" = "$before" ] || lab_die "events went from $before to $(events): $out"
[ "$(grep -c "e2\.1 is back" "$log")" = "$readds" ] &&
  [ "$(grep -c "recovery finished" "$log")" = "$recoveries" ] ||
  lab_die "an idle restart was re-added or recovered: $(grep -E "e2\.1|recovery" "$log" | tail -n 5)"
# back in its own slot, said so, and not also refused as a re-add ("e2.1 is back but was
# not re-added: member e2.1 is already in the array", counted above)
[ "$(grep -c "e2\.1 answers again: back in slot 1 with its own disk" "$log")" = 1 ] ||
  lab_die "e2.1's return to its slot not said once: $(grep "e2\.1" "$log" | tail -n 5)"
echo "$out" | grep >/dev/null "recovery" && lab_die "a recovery runs: $out"
[ "$(readback)" = "$want" ] || lab_die "after the idle restart: data differs"
echo "ok: e2.1 restarted while idle: up again $took ms later, events still $before, no recovery"
plugin_stop
echo "plugin-idle-shelf: passed"
