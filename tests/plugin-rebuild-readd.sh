#!/usr/bin/env bash
# A shelf that drops out and comes back is rebuilt only where it missed writes (md's
# write-intent bitmap and re-add): RAID1 of two shelves with 1 MiB bitmap regions; the
# bits go clean while the array idles; e2.1 dies, 2 MiB are written, e2.1's vblade comes
# back on the same disk and `aoeraid add e2.1` puts it back in its slot, where only the
# dirty regions are rebuilt.  Then e1.1 dies and e2.1 alone must serve every byte.
# auto-readd=false: the add by hand is the subject here (plugin-rebuild-autoreadd: without).
# bitmap-delay=1: the bits go clean 1 to 2 s after the writes, not 5 to 10.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 2 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 48M 2M

plugin_start "$sock" shelves=e1.1,e2.1 level=1 chunk=64K bitmap-chunk=1M control=$ctl \
  dead-time=2 auto-readd=false bitmap-delay=1
nbdcopy --flush "$LAB_DIR/data" "$uri"
# bitmap-delay=1 (md's --delay 1): the passes that clear idle bits come a second apart
status | grep >/dev/null -E "bitmap [0-9]+ of 63 regions dirty, 1024K each, delay 1s$" ||
  lab_die "no bitmap with bitmap-delay's 1s in status: $(status)"
echo "ok: $(status | grep bitmap) after writing 48 MiB"
wait_bitmap_clean 63
echo "ok: idle, every region clean again"

write_away 2 63
echo "ok: e2.1 gone, 2 MiB written: $(status | grep bitmap)"

readd_back 2 63
echo "ok: e2.1 back in slot 1, only the 2 dirty regions rebuilt"

lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "e2.1 alone: data differs"
echo "ok: e1.1 killed: e2.1 alone serves every byte right"
plugin_stop
echo "plugin-rebuild-readd: passed"
