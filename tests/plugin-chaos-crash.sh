#!/usr/bin/env bash
# A server killed in the middle of writes loses no acknowledged write: RAID5 of e1.1-e4.1
# (chunk 64K, 1 MiB bitmap regions).  tests/crash-writer.py keeps 16 writes in flight over
# the first 64 MiB, stamping every sector; nbdkit is killed (SIGKILL) under them, twice.
# Each round starts with every bitmap region clean, so the resync after the crash covers
# only the regions the writes marked.  After each restart every sector must hold its last
# acknowledged write, or the write that was cut short (see crash-writer.py), once that
# resync is done;
# and again with e4.1 dead, where a quarter of the sectors come back through the parity
# that resync rewrote (a parity left stale by the crash would show here).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
params=(shelves=e1.1,e2.1,e3.1,e4.1 level=5 chunk=64K bitmap-chunk=1M control="$ctl"
        dead-time=1)

plugin_start "$sock" "${params[@]}"
wait_clean "the initial resync"
for round in 1 2; do
  wait_bitmap_clean 63    # so the resync covers only what the bitmap marked for the writes
  crash_under_writes "$round"
  echo "round $round: nbdkit killed: $(tail -n 1 "$LAB_DIR/writer.out")"

  plugin_start "$sock" "${params[@]}"
  wait_clean "the resync after the crash"
  resyncs=$(grep -c "regions the write-intent bitmap held dirty" "$LAB_DIR/nbdkit.log" || true)
  [ "$resyncs" = $((round + 1)) ] || lab_die "no resync of the dirty regions after the crash"
  grep -o "resync from .*held dirty" "$LAB_DIR/nbdkit.log" | tail -n 1
  grep "resync from" "$LAB_DIR/nbdkit.log" | tail -n 1 | grep >/dev/null -E "over the [1-5]?[0-9] of 63 " ||
    lab_die "the resync after the crash did not go by the bitmap"
  writer check "$uri" "$LAB_DIR/state" || lab_die "round $round: wrong data after the crash"
  echo "ok: round $round: every acknowledged write is there after the crash"
  out=$("$aoeraid" check -c "$ctl") || lab_die "aoeraid check: $out"
  wait_status "last check complete at 100.0%: mismatches [0-9]+ "
  grep -q "mismatches 0 " <<<"$out" || lab_die "round $round: parity left stale: $(grep last <<<"$out")"
  echo "ok: round $round: a check finds every stripe's parity right"
done

lab_kill 4
writer check "$uri" "$LAB_DIR/state" || lab_die "wrong data with e4.1 dead: stale parity"
echo "ok: the same with e4.1 dead, through the parity the resync rewrote"
plugin_stop
echo "plugin-chaos-crash: passed"
