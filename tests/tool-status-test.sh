#!/usr/bin/env bash
# aoeraid status --test (md's --detail --test): the exit status tells the array's state,
# for monitoring scripts: 0 clean, 1 degraded, 2 failed, 4 when the server cannot be
# asked; the status itself is printed as without --test (text, or --json).  RAID5 of
# three shelves: clean, then e3.1 failed by the administrator (degraded), then e2.1's
# shelf stopped too (failed once its dead and hold times pass), then nbdkit stopped.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 90
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K dead-time=1 hold-time=1 \
  auto-readd=false control="$ctl"
wait_clean "the new array" 60

# expect_test RC STATE: `status --test` and `status --test --json` exit RC and print STATE.
expect_test() {
  local rc out
  rc=0; out=$("$aoeraid" status -c "$ctl" --test 2>&1) || rc=$?
  [ "$rc" = "$1" ] || lab_die "status --test exited $rc, want $1: $out"
  grep -q "^  state $2" <<<"$out" || lab_die "status --test did not print state $2: $out"
  rc=0; out=$("$aoeraid" status -c "$ctl" --test --json 2>&1) || rc=$?
  [ "$rc" = "$1" ] || lab_die "status --test --json exited $rc, want $1: $out"
  jq -e --arg s "$2" '.state == $s' >/dev/null <<<"$out" || lab_die "--json did not say $2: $out"
  echo "ok: status --test exits $1 on a $2 array"
}
expect_test 0 clean

ctl_ok fail e3.1
expect_test 1 degraded

lab_kill 2
for _ in $(seq 150); do status | grep -q '^  state failed' && break; sleep 0.1; done
nbdsh -u "$uri" -c 'h.pread(4096, 0)' 2>/dev/null || true    # a read finds it gone too
for _ in $(seq 150); do status | grep -q '^  state failed' && break; sleep 0.1; done
expect_test 2 failed

plugin_stop
rc=0; out=$("$aoeraid" status -c "$ctl" --test 2>&1) || rc=$?
[ "$rc" = 4 ] || lab_die "status --test on a stopped server exited $rc: $out"
echo "ok: status --test exits 4 when the server cannot be asked: $out"
echo "tool-status-test: passed"
