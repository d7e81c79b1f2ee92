#!/usr/bin/env bash
# A write-intent bitmap added to and removed from a running array (md's --grow
# --bitmap=internal|none) through `aoeraid grow bitmap=SIZE|none`: a RAID1 of two shelves
# created without one (bitmap-chunk=0) takes a bitmap of 1 MiB regions while a writer
# writes (nothing lost), keeps it across a restart, and re-adds e2.1, which dropped out
# and came back, over the 2 regions it missed only (the add answers that it re-adds it).
# Then bitmap=none while e2.1 is away again (degraded: taken, as md does, saying what it
# costs): its return is a full rebuild.  Refusals: during the initial resync, a raid0, a
# change of the region size, a bitmap already there or none to remove, a bad size.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 300
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 128M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 48M 2M

# A raid0 has no member that comes back: no bitmap (md refuses one too).
plugin_start "$sock" shelves=e3.1,e4.1 level=0 chunk=64K control="$ctl"
grow_refused "a bitmap on a raid0" "is a raid0, without redundancy: no member of it comes back" \
  bitmap=1M
plugin_stop

plugin_start "$sock" shelves=e1.1,e2.1 level=1 chunk=64K bitmap-chunk=0 control="$ctl" \
  dead-time=2 auto-readd=false sync-speed-max=20M
status | grep >/dev/null "  bitmap none" || lab_die "created with a bitmap: $(status)"
grow_refused "a bitmap during the initial resync" "it is not in sync yet" bitmap=1M
wait_clean "the initial resync"
grow_refused "bitmap=lots" "'lots' is not a bitmap region size" bitmap=lots
grow_refused "bitmap=32K" "'32K' is not a bitmap region size: write none, or from 64K to 1T" \
  bitmap=32K
grow_refused "bitmap= with shelves" "bitmap= takes no shelves" bitmap=1M e3.1
grow_refused "none to remove" "has no write-intent bitmap to remove" bitmap=none

writer_start
sleep 1
out=$("$aoeraid" grow -c "$ctl" bitmap=1M) || lab_die "grow bitmap=1M failed: $out"
echo "ok: $out"
grep -Eq "^write-intent bitmap added: 127 regions of 1 MiB, every one clean$" <<<"$out" ||
  lab_die "grow bitmap=1M said: $out"
wait_log "write-intent bitmap added: 127 regions of 1 MiB, every one clean" "no log line"
status | grep >/dev/null -E "  bitmap [0-9]+ of 127 regions dirty, 1024K each" ||
  lab_die "status shows no bitmap: $(status)"
echo "ok: $(status | grep bitmap) while the writer writes"
sleep 1
writer_verify "adding the bitmap"
grow_refused "the same bitmap again" "has a write-intent bitmap of 1 MiB regions already" bitmap=1M
grow_refused "another region size" \
  "its region size cannot change in place; remove it \(bitmap=none\), then add one of 2 MiB" \
  bitmap=2M

nbdcopy --flush "$LAB_DIR/data" "$uri"
plugin_stop
plugin_start "$sock" shelves=e1.1,e2.1 control="$ctl" dead-time=2 auto-readd=false
status | grep >/dev/null -E "  bitmap [0-9]+ of 127 regions dirty, 1024K each" ||
  lab_die "the bitmap is gone after a restart: $(status)"
echo "ok: restarted: $(status | grep bitmap)"
wait_bitmap_clean 127
echo "ok: idle, every region clean"

write_away 2 127
echo "ok: e2.1 gone, 2 MiB written: $(status | grep bitmap)"
readd_back 2 127
[ "$(readback)" = "$want" ] || lab_die "after the re-add: data differs"
echo "ok: e2.1 back in slot 1, only the 2 dirty regions rebuilt"

# Removed while e2.1 is away (degraded: md takes it then too): the answer says what it
# costs, e2.1's return is a full rebuild.
lines=$(wc -l <"$LAB_DIR/nbdkit.log")
lab_kill 2
nbdsh -u "$uri" -c "
data = open('$LAB_DIR/more', 'rb').read()
h.pwrite(data, 20 << 20)
h.flush()
" || lab_die "writing with e2.1 gone failed"
dd if="$LAB_DIR/more" of="$LAB_DIR/want" bs=1M seek=20 conv=notrunc status=none
want=$(md5sum <"$LAB_DIR/want")
status | grep >/dev/null "state degraded" || lab_die "e2.1 gone, written: not degraded: $(status)"
out=$("$aoeraid" grow -c "$ctl" bitmap=none) || lab_die "grow bitmap=none, degraded, failed: $out"
echo "ok: $out"
grep -q "^write-intent bitmap removed: a member that comes back is rebuilt in full, and a crash resyncs the whole array; the array is degraded: its missing member too, when it returns, is rebuilt in full (no bitmap to re-add it from)$" <<<"$out" ||
  lab_die "grow bitmap=none said: $out"
status | grep >/dev/null "  bitmap none" || lab_die "status still shows a bitmap: $(status)"
lab_start 2
out=$("$aoeraid" add -c "$ctl" e2.1) || lab_die "add e2.1 failed: $out"
grep -q "^added e2\.1 as a spare" <<<"$out" || lab_die "add e2.1, no bitmap, answered: $out"
wait_recovered 1 e2.1
tail -n +"$lines" "$LAB_DIR/nbdkit.log" | grep -q "spare e2.1 takes slot 1; recovery starts" ||
  lab_die "e2.1 was not rebuilt in full: $(tail -n +"$lines" "$LAB_DIR/nbdkit.log" | grep -i "slot 1")"
echo "ok: without the bitmap, e2.1's return is a full rebuild"

plugin_stop
plugin_start "$sock" shelves=e1.1,e2.1 control="$ctl" dead-time=2 auto-readd=false
status | grep >/dev/null "  bitmap none" || lab_die "the bitmap is back after a restart: $(status)"
echo "ok: restarted without a bitmap"

lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "e2.1 alone: data differs"
echo "ok: e1.1 killed: e2.1 alone serves every byte right"
plugin_stop
echo "plugin-grow-bitmap: passed"
