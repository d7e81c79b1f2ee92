#!/usr/bin/env bash
# aoeraid wait (md's --wait): returns 0 once no resync, recovery, reshape, replace or check
# runs; with -t SECONDS, 1 and one line naming what still runs.  RAID5 of three 32 MiB
# shelves created with sync-speed-max=2M, so its initial resync takes seconds: a wait of
# 1 s ends with the resync named; lifted to 16M, a plain wait returns only once status
# shows no resync; an idle array's wait returns at once; a check is waited for too; an
# add of a spare to a degraded array is waited for until its recovery ended; a stopped
# server is an error, and a stray word a usage error.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K sync-speed-max=2M control="$ctl"

# wait_for_at_most S RUN: `aoeraid wait -t S` must end with 1 and one line naming RUN.
wait_for_at_most() {
  local out rc=0
  out=$(timeout 30 "$aoeraid" wait -c "$ctl" -t "$1" 2>&1) || rc=$?
  [ "$rc" = 1 ] || lab_die "wait -t $1 during a $2 exited $rc: $out"
  grep -Eq "^aoeraid: $ctl: still running after $1 s: .*$2 [0-9.]+%.*; wait longer with -t SECONDS" \
    <<<"$out" || lab_die "wait -t $1 during a $2 said: $out"
  [ "$(wc -l <<<"$out")" = 1 ] || lab_die "wait -t $1 said more than one line: $out"
  echo "ok: wait -t $1 during a $2: $out"
}
wait_for_at_most 1 resync

ctl_ok speed max=16M
timeout 60 "$aoeraid" wait -c "$ctl" || lab_die "wait during the resync failed: $(status)"
out=$(status)
grep -q '^  resync' <<<"$out" && lab_die "wait returned while the resync ran: $out"
grep -q 'state clean' <<<"$out" || lab_die "not clean after the wait: $out"
echo "ok: wait returned once the resync had finished"

timeout 10 "$aoeraid" wait -c "$ctl" || lab_die "wait on an idle array failed"
echo "ok: wait on an idle array returns 0"

ctl_ok speed max=2M
ctl_ok check
wait_for_at_most 1 check
ctl_ok speed max=0
timeout 60 "$aoeraid" wait -c "$ctl" || lab_die "wait during the check failed: $(status)"
status | grep -q '^  last check complete at 100\.0%' || lab_die "wait returned before the check ended: $(status)"
echo "ok: wait returned once the check had completed"

# md's `mdadm --add ... && mdadm --wait`: the wait covers the recovery the add begins
ctl_ok fail e3.1
ctl_ok speed max=8M
ctl_ok add e4.1
timeout 60 "$aoeraid" wait -c "$ctl" || lab_die "wait after the add failed: $(status)"
out=$(status)
grep -Eq '^ +2 +e4\.1 +active' <<<"$out" && ! grep -q '^  recovery' <<<"$out" &&
  grep -q 'state clean' <<<"$out" || lab_die "wait returned before the recovery onto e4.1 ended: $out"
echo "ok: add, then wait: returned once the recovery onto e4.1 had ended"

out=$("$aoeraid" wait -c "$ctl" now 2>&1) && lab_die "wait took a stray word: $out"
grep -q "wait takes no words" <<<"$out" || lab_die "wait with a stray word said: $out"
plugin_stop
rc=0; out=$(timeout 10 "$aoeraid" wait -c "$ctl" 2>&1) || rc=$?
[ "$rc" = 1 ] && grep -q "is nbdkit aoeraid running with control=" <<<"$out" ||
  lab_die "wait on a stopped server exited $rc: $out"
echo "ok: wait on a stopped server: $out"
echo "tool-wait: passed"
