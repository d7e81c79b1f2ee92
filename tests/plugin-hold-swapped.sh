#!/usr/bin/env bash
# Two held shelves swapped before they answer again: the hold must not hand either disk
# the other's I/O.  raid0 of e1.1, e2.1 (64 KiB chunks, hold-time=12s), data written;
# both shelves go silent (held: the raid0 cannot do without either), then each disk comes
# back at the other's address (vblade restarted, as plugin-shelf-swapped does for a
# return from down).  vblade's IDENTIFY serial is "SHELF.SLOT:HOST", so the swapped disks
# answer with the serial and size each address had: identify_result cannot tell them
# apart, and the hold's end is no up spell, so the member guard's superblock check
# (aoe_member_guard) never runs.  So a held shelf proves its disk before its held I/O goes
# (aoe_options.may_resume: its superblock must carry the slot's member uuid).  A read of
# the first two chunks must then fail or return what was written, never the chunks the
# wrong way round (refused, the held read fails when the hold runs out, 12 s on, so that
# nbdkit does not wait for it at its stop); and the log must say each came back with
# another disk.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 2 -s 64M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
log=$LAB_DIR/nbdkit.log

serve_as() {
  ip netns exec "$LAB_PREFIX-s$1" vblade "$2" 1 eth0 "${LAB_IMG[$1]}" >>"$LAB_DIR/vblade$1.log" 2>&1 &
  LAB_SHELF_PIDS[$1]=$!
  lab_wait_vblade $!
}

# hold-time: the test waits it out (the held read), so no longer than needed for both
# shelves to come back swapped within it on a loaded machine (a second or two; 20 s was)
plugin_start "$sock" shelves=e1.1,e2.1 level=0 chunk=64K dead-time=1 hold-time=12 \
  control="$ctl"
nbdsh -u "$uri" -c "h.pwrite(b'A' * 65536 + b'B' * 65536, 0); h.flush()" ||
  lab_die "the write before"
lab_kill 1
lab_kill 2
for _ in $(seq 100); do
  [ "$(grep -c "cannot do without it: held" "$log")" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c "cannot do without it: held" "$log")" -ge 2 ] ||
  lab_die "the two shelves were not held: $(grep "aoe: e" "$log" | tail -n 6)"
echo "ok: both shelves held"
serve_as 1 2
serve_as 2 1
sleep 3
got=$(timeout 40 nbdsh -u "$uri" -c "
import sys
d = h.pread(131072, 0)
sys.stdout.write('AB' if d == b'A' * 65536 + b'B' * 65536 else
                 'BA' if d == b'B' * 65536 + b'A' * 65536 else 'other')" 2>/dev/null) || got=failed
grep -E "answers again|came back|swapped" "$log" | sed 's/^/  log: /' || true
[ "$got" != BA ] || lab_die "the swapped disks served each other's chunks (read $got)"
[ "$(grep -c "answers again, but with another disk" "$log")" -ge 2 ] ||
  lab_die "the swapped disks were not refused: $(grep "aoe: e" "$log" | tail -n 6)"
echo "ok: the swapped held shelves served no wrong data (read $got)"
plugin_stop
echo "plugin-hold-swapped: passed"
