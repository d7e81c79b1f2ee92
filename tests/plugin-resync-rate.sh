#!/usr/bin/env bash
# The rate a resync shows is md's: the bytes it moved over the last seconds, not the units
# it passed.  RAID5 of three 64 MiB shelves, chunk 64K, 1 MiB bitmap regions: once the bits
# have gone clean, four regions far apart are written and nbdkit is killed.  Restarted with
# sync-speed-max=1M, the resync passes the clean regions at once and moves 1 MiB a dirty
# region under the limit: the rate it shows must keep near 1 MB/s.  (It was counted as
# units passed over seconds since the start, and showed 10-40 MB/s in the first seconds.)
# A loose bound: the limiter's correctness, not the machine's speed.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 48M 1M
args=(shelves=e1.1,e2.1,e3.1 level=5 chunk=64K bitmap-chunk=1M control=$ctl)

plugin_start "$sock" "${args[@]}"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_bitmap_clean 63 30
# 2 MiB of data a region (1 MiB of each of the two data members): regions 4, 20, 36, 52
nbdsh -u "$uri" -c "
more = open('$LAB_DIR/more', 'rb').read()
for mib in (8, 40, 72, 104):
    h.pwrite(more, mib << 20)
h.flush()
" || lab_die "writing 1 MiB at 8, 40, 72 and 104 MiB failed"
status | grep >/dev/null "bitmap 4 of 63 regions dirty" || lab_die "expected 4 dirty regions: $(status)"
kill -KILL "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null || true
PLUGIN_PID=
echo "ok: 4 regions written far apart, nbdkit killed"

# The resync's MB/s (the figure before "MB/s"), or nothing while it shows none.
resync_rate() { status | sed -n 's/^  resync after a crash .*  \([0-9.]*\) MB\/s  eta .*/\1/p'; }
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" "${args[@]}" sync-speed-max=1M
for _ in $(seq 300); do [ -n "$(resync_rate)" ] && break; sleep 0.1; done
[ -n "$(resync_rate)" ] || lab_die "no resync rate 30 s after the start: $(status)"
sleep 1
rate=$(resync_rate)
line=$(status | grep "^  resync") || lab_die "the resync of 4 MiB at 1M/s ended within 1.2 s"
echo "status after a second: $line"
awk -v r="$rate" 'BEGIN { exit !(r < 4) }' ||
  lab_die "the resync capped at 1M/s shows $rate MB/s after a second: $line"
echo "ok: the resync capped at 1M/s shows $rate MB/s after a second (regions passed are not moved)"
for _ in $(seq 300); do grep -q "resync finished" "$LAB_DIR/nbdkit.log" && break; sleep 0.1; done
grep -q "resync finished" "$LAB_DIR/nbdkit.log" || lab_die "the resync did not finish: $(status)"
grep -q "over the 4 of 63 regions the write-intent bitmap held dirty" "$LAB_DIR/nbdkit.log" ||
  lab_die "the resync was not limited to the dirty regions: $(grep resync "$LAB_DIR/nbdkit.log")"
echo "ok: the resync moved the 4 dirty regions and finished"
plugin_stop
echo "plugin-resync-rate: passed"
