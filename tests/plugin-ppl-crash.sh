#!/usr/bin/env bash
# The partial parity log under real load: RAID5 of e1.1-e4.1 (chunk 64K) with
# consistency-policy=ppl; tests/crash-writer.py keeps 16 writes in flight over the first
# 64 MiB, nbdkit is killed (SIGKILL) under them, and a shelf dies with it.  The array must
# start dirty and degraded without force, replaying the log, and every sector must hold its
# last acknowledged write or the one cut short, its column read through the replayed parity
# where its shelf is the one gone.  The shelf then comes back (auto-readd, from the bitmap),
# a check finds every parity right, and the next round takes another shelf.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
params=(shelves=e1.1,e2.1,e3.1,e4.1 level=5 chunk=64K consistency-policy=ppl control="$ctl"
        dead-time=2)

plugin_start "$sock" "${params[@]}"
wait_clean "the initial resync"
for shelf in 4 2; do
  crash_under_writes "$shelf"
  lab_kill "$shelf"
  echo "e$shelf.1 down with nbdkit killed under writes: $(tail -n 1 "$LAB_DIR/writer.out")"

  : >"$LAB_DIR/nbdkit.log"
  plugin_start "$sock" "${params[@]}"
  grep -q "partial parity log replayed" "$LAB_DIR/nbdkit.log" ||
    lab_die "no replay at the dirty degraded start: $(cat "$LAB_DIR/nbdkit.log")"
  grep "partial parity log replayed" "$LAB_DIR/nbdkit.log"
  writer check "$uri" "$LAB_DIR/state" || lab_die "e$shelf.1 gone: wrong data after the replay"
  echo "ok: e$shelf.1 gone: every sector as the writes left it"

  lab_start "$shelf"
  wait_clean "e$shelf.1 back: its recovery and the resync after the crash" 120
  grep -Eq "^ +$((shelf - 1)) +e$shelf.1 +active" <<<"$out" || lab_die "e$shelf.1 not back in its slot: $out"
  out=$("$aoeraid" check -c "$ctl") || lab_die "aoeraid check: $out"
  wait_status "last check complete at 100.0%: mismatches [0-9]+ "
  grep -q "mismatches 0 " <<<"$out" || lab_die "e$shelf.1 back: parity wrong: $(grep last <<<"$out")"
  writer check "$uri" "$LAB_DIR/state" || lab_die "e$shelf.1 back: wrong data"
  echo "ok: e$shelf.1 back from the bitmap; a check finds every stripe's parity right"
done
plugin_stop
echo "plugin-ppl-crash: passed"
