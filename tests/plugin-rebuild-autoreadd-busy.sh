#!/usr/bin/env bash
# auto-readd looks on time while the monitor runs a long recovery: a three-way RAID1 of
# e1.1..e3.1 with 1 MiB bitmap regions; e3.1 is failed and e4.1 added, whose full recovery
# of slot 2 runs slowly (sync speed max 1M); meanwhile e2.1 dies under writes and comes
# back.  It is re-added while slot 2 still recovers (md re-adds a returning disk at once)
# and waits as a spare: one recovery at a time, as md's sync thread; once slot 2 is done
# e2.1 goes back to slot 1, rebuilt from its bitmap only.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 2M
log=$LAB_DIR/nbdkit.log
recovering_slot2() { status | grep >/dev/null "recovery slot 2 (e4.1)"; }

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=1 chunk=64K bitmap-chunk=1M \
  control=$ctl dead-time=2 bitmap-delay=1
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_bitmap_clean 31
"$aoeraid" fail -c "$ctl" e3.1 >/dev/null
status | grep >/dev/null -E "^ +2 +e3.1 +faulty" || lab_die "e3.1 is not faulty: $(status)"
"$aoeraid" speed -c "$ctl" max=1M >/dev/null
out=$("$aoeraid" add -c "$ctl" e4.1) || lab_die "add e4.1 failed: $out"
for _ in $(seq 300); do recovering_slot2 && break; sleep 0.1; done
recovering_slot2 || lab_die "no recovery of slot 2 onto e4.1: $(status)"
echo "ok: e3.1 failed, e4.1 added: slow recovery of slot 2 runs: $(status | grep "recovery slot")"

write_away 2 31
status | grep >/dev/null -E "^ +1 +e2.1 +faulty" || lab_die "e2.1 is not faulty: $(status)"
lab_start 2
for _ in $(seq 300); do grep -q "e2.1 is back: re-adding it" "$log" && break; sleep 0.1; done
grep -q "e2.1 is back: re-adding it" "$log" || lab_die "e2.1 not re-added within 30 s: $(status)"
# that line comes before the add itself (its superblock read over AoE): poll for the spare
for _ in $(seq 300); do out=$(status); grep -q "spares e2.1" <<<"$out" && break; sleep 0.1; done
grep -q "recovery slot 2 (e4.1)" <<<"$out" ||
  lab_die "the recovery of slot 2 ended before e2.1 was re-added: $out"
grep -q "spares e2.1" <<<"$out" || lab_die "e2.1 does not wait as a spare: $out"
echo "ok: e2.1 re-added while slot 2 recovers; it waits as a spare: $(echo "$out" | grep "recovery slot")"

"$aoeraid" speed -c "$ctl" max=0 >/dev/null
# not wait_recovered: between the two recoveries the array is, for a moment, degraded
# with no recovery running (slot 2 done, e2.1 not yet installed); only the end is clean
wait_status "^ +2 +e4.1 +active"
wait_recovered 1 e2.1
grep -Eq "e2.1 comes back to slot 1; recovery of the 2 of 31 regions" "$log" ||
  lab_die "e2.1 was not re-added from the bitmap: $(grep -i "slot 1" "$log")"
[ "$(grep -c "e2\.1 is back" "$log")" = 1 ] || lab_die "e2.1 re-added more than once: $(grep e2.1 "$log")"
! grep -q "was not re-added" "$log" || lab_die "a refusal logged: $(grep "not re-added" "$log")"
[ "$(readback)" = "$want" ] || lab_die "data differs after both recoveries"
plugin_stop
echo "ok: slot 2 recovered onto e4.1, then e2.1 back in slot 1 from its bitmap; every byte right"
echo "plugin-rebuild-autoreadd-busy: passed"
