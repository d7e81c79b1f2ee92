#!/usr/bin/env bash
# No acknowledged write is lost while the array reshapes and a member is replaced under
# load: RAID5 of e1.1-e4.1.  tests/crash-writer.py writes over the first 96 MiB (16 writes
# in flight, every sector stamped, 8 MB/s) until all of this is over, one after the other:
#   the array grows onto e5.1 (a reshape to a RAID5 of 5) and e3.1's vblade dies in the
#     middle of it: the reshape goes on degraded, e3.1 comes back, is re-added by itself
#     and rebuilt once the reshape is done;
#   e1.1 is replaced by e6.1 (md's --replace) and then removed.
# No write may fail; then every sector must hold what was written there last, a check must
# find no mismatch, and the same must hold after nbdkit is restarted on the superblocks
# with the new shelves.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 6 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"

plugin_start "$sock" shelves=e1.1,e2.1,e3.1,e4.1 level=5 chunk=64K control="$ctl" \
  dead-time=1 sync-speed-min=15M
wait_clean "the initial resync"

writer_start
sleep 1

out=$("$aoeraid" grow -c "$ctl" e5.1) || lab_die "aoeraid grow e5.1: $out"
wait_status "reshape raid5 of 4 -> raid5 of 5 +[1-9][0-9]?\.[0-9]%"
lab_kill 3
wait_status "^ +2 +e3.1 +faulty"
grep -q "reshape" <<<"$out" || lab_die "the reshape ended before e3.1 failed: $out"
echo "ok: e3.1 died in the middle of the reshape: $(grep reshape <<<"$out")"
lab_start 3
wait_status "^ +2 +e3.1 +active"
wait_clean "e3.1's recovery after the reshape"
echo "ok: reshaped to a RAID5 of 5 and e3.1 rebuilt after it"

out=$("$aoeraid" replace -c "$ctl" e1.1 e6.1) || lab_die "aoeraid replace e1.1 e6.1: $out"
wait_status "^ +0 +e6.1 +active"
out=$("$aoeraid" remove -c "$ctl" e1.1) || lab_die "aoeraid remove e1.1: $out"
echo "ok: e1.1 replaced by e6.1 under writes, and removed"

writer_verify "the reshape, the failure and the replace"

plugin_stop
plugin_start "$sock" shelves=e6.1,e2.1,e3.1,e4.1,e5.1 control="$ctl"
wait_status "level raid5 .* members 5 "
verify_blocks "lost after a restart"
plugin_stop
echo "plugin-chaos-reshape: passed"
