#!/usr/bin/env bash
# A shelf that drops out and comes back heals the array by itself (auto-readd, md's udev
# rule running mdadm --incremental): RAID1 of two shelves with 1 MiB bitmap regions; the
# bits go clean while the array idles; e2.1 dies, 2 MiB are written, e2.1's vblade comes
# back on the same disk and, with no `aoeraid add`, e2.1 goes back to its slot where only
# the dirty regions are rebuilt.  Then e1.1 dies and e2.1 alone must serve every byte;
# e1.1 comes back read-only: re-added once, refused once, and left out.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 90
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 2 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 2M

plugin_start "$sock" shelves=e1.1,e2.1 level=1 chunk=64K bitmap-chunk=1M control=$ctl \
  dead-time=2 bitmap-delay=1
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_bitmap_clean 63
echo "ok: 16 MiB written, idle, every region clean again"

write_away 2 63
status | grep >/dev/null -E "^ +1 +e2.1 +faulty" || lab_die "e2.1 is not faulty: $(status)"
echo "ok: e2.1 gone, 2 MiB written: $(status | grep bitmap)"

lab_start 2
wait_recovered 1 e2.1
log=$LAB_DIR/nbdkit.log
grep -q "e2.1 is back: re-adding it to the array" "$log" ||
  lab_die "no notice of e2.1's return: $(grep e2.1 "$log")"
grep -Eq "e2.1 comes back to slot 1; recovery of the 2 of 63 regions" "$log" ||
  lab_die "e2.1 was not re-added from the bitmap: $(grep -i "slot 1" "$log")"
echo "ok: e2.1 back in slot 1 by itself, only the 2 dirty regions rebuilt"
# Once per return: the monitor keeps looking, and must not add it again.
sleep 1
[ "$(grep -c "e2\.1 is back" "$log")" = 1 ] ||
  lab_die "e2.1 re-added more than once: $(grep e2.1 "$log")"
! grep -q "was not re-added" "$log" || lab_die "a refusal logged: $(grep "not re-added" "$log")"

lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "e2.1 alone: data differs"
echo "ok: e1.1 killed: e2.1 alone serves every byte right"

# A shelf that comes back with a disk that fails writes (vblade -r): one try, one warning,
# then it stays out; never re-added again and again while it stays up.
nbdcopy --flush "$LAB_DIR/more" "$uri" || lab_die "writing with e1.1 gone failed"
LAB_FLAGS[1]="-r"
lab_start 1
for _ in $(seq 300); do grep -q "e1.1 is back but was not re-added" "$log" && break; sleep 0.1; done
sleep 2
[ "$(grep -c "e1\.1 is back: re-adding" "$log")" = 1 ] &&
  [ "$(grep -c "e1\.1 is back but was not re-added: cannot write the superblock" "$log")" = 1 ] ||
  lab_die "e1.1 (read-only) not tried exactly once: $(grep "e1.1 is back" "$log")"
status | grep >/dev/null -E "^ +0 +e1.1 +faulty .* up " || lab_die "e1.1 should be up and faulty: $(status)"
echo "ok: $(grep -o "e1.1 is back but.*" "$log")"
plugin_stop
echo "plugin-rebuild-autoreadd: passed"
