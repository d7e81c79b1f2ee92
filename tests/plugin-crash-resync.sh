#!/usr/bin/env bash
# After a crash only the regions the write-intent bitmap holds dirty are resynced (md's
# resync with a bitmap), and a torn write's parity there is put right.  RAID5 of three
# 64 MiB shelves, chunk 64K, 1 MiB bitmap regions: once the bits have gone clean, 2 MiB
# are written at 8 MiB, nbdkit is killed (SIGKILL: the superblocks still say dirty), and
# the parity of one stripe written there is damaged by hand, as a crash between the data
# and the parity update leaves it.  The next start must resync that one region alone, and
# with e1.1 gone afterwards the stripe's data, rebuilt through that parity, must read right.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 48M 2M
args=(shelves=e1.1,e2.1,e3.1 level=5 chunk=64K bitmap-chunk=1M control=$ctl)

plugin_start "$sock" "${args[@]}"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_bitmap_clean 63 30
nbdsh -u "$uri" -c "
h.pwrite(open('$LAB_DIR/more', 'rb').read(), 8 << 20)
h.flush()
" || lab_die "writing 2 MiB at 8 MiB failed"
cp "$LAB_DIR/data" "$LAB_DIR/want"
dd if="$LAB_DIR/more" of="$LAB_DIR/want" bs=1M seek=8 conv=notrunc status=none
want=$(md5sum <"$LAB_DIR/want")
status | grep >/dev/null "bitmap 1 of 63 regions dirty" || lab_die "expected 1 dirty region: $(status)"
kill -KILL "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null || true
PLUGIN_PID=
echo "ok: 2 MiB written at 8 MiB (1 region dirty), nbdkit killed"

# Stripe 64 (8 MiB / 128 KiB of data a stripe): its parity is on slot 1 (md's
# left-symmetric: 2 - 64 % 3), at the data offset (1 MiB + 8 chunks of room for grows)
# plus 64 chunks.  Its first 4 KiB, wrong.
head -c 4096 /dev/urandom | dd of="${LAB_IMG[2]}" bs=4096 seek=$(( (1536 + 64 * 64) / 4 )) \
  conv=notrunc status=none
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" "${args[@]}"
for _ in $(seq 300); do grep -q "resync finished" "$LAB_DIR/nbdkit.log" && break; sleep 0.1; done
grep -q "resync finished" "$LAB_DIR/nbdkit.log" || lab_die "no resync after the crash: $(status)"
grep -q "over the 1 of 63 regions the write-intent bitmap held dirty" "$LAB_DIR/nbdkit.log" ||
  lab_die "the resync was not limited to the dirty region: $(grep resync "$LAB_DIR/nbdkit.log")"
echo "ok: restarted: $(grep -o 'resync from.*' "$LAB_DIR/nbdkit.log")"

lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "e1.1 gone: data rebuilt through the resynced parity differs"
echo "ok: e1.1 killed: every byte reads right through the parity the resync rewrote"
plugin_stop
echo "plugin-crash-resync: passed"
