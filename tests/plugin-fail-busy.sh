#!/usr/bin/env bash
# `aoeraid fail` while a reshape or a replace of another slot runs, with a spare.  During
# a reshape the answer says the recovery onto the spare starts once it has finished (a
# rebuild works on one layout), not to add a shelf, nor that it starts now; then the
# reshape ends, the spare takes the failed slot and every byte reads back.  During a
# replace the recovery starts at once and the replace waits at its checkpoint (as md's
# sync thread rebuilds a failed slot beside a replacement: run to its end first, the copy
# left the array without redundancy for as long as it took): status shows both while the
# replace is still slowed far from its end; then both end and every byte reads back.
# Failing the member a replace copies hands its slot to the replace's new shelf, and the
# answer names it.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

# 32 MiB shelves: room for the 16 MiB of data; each unslowed rebuild and the reshape run
# over whole shelves, so they take half the time of 64 MiB ones
lab_up -n 7 -s 32M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 0
want=$(md5sum <"$LAB_DIR/data")
# fail SHELF while the run status shows as RUN goes on: the answer must be ANSWER, and RUN
# still on after it (else the answer was not put to the test); then the run goes unslowed.
fail_during() {
  ctl_ok fail "$1"
  [ "$out" = "$3" ] || lab_die "fail $1 during '$2' answered: $out"
  status | grep >/dev/null -F "$2" ||
    lab_die "'$2' had ended before the fail: the answer was not put to the test: $(status)"
  ctl_ok speed max=0
}

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 spares=e4.1 level=5 chunk=64K control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the initial resync"
# slow, so that the reshape still runs when e2.1 is failed (status must show it)
ctl_ok speed max=2M
ctl_ok check
wait_status "^  check [0-9.]+%"
ctl_ok grow e5.1
grep -q "the check that ran stops: run it again once the reshape has finished" <<<"$out" ||
  lab_die "grow during a check did not say the check stops: $out"
status | grep >/dev/null "reshape raid5 of 3 -> raid5 of 4" || lab_die "no reshape runs: $(status)"
fail_during e2.1 "reshape raid5 of 3 -> raid5 of 4" \
  "e2.1 marked faulty; recovery onto a spare starts once the reshape has finished (a rebuild works on one layout)"
wait_recovered 1 e4.1
[ "$(readback)" = "$want" ] || lab_die "after the reshape and the recovery the data differs"
echo "ok: the reshape ended, e4.1 took slot 1, every byte reads back"

ctl_ok remove e2.1
ctl_ok add e6.1
ctl_ok speed max=2M
ctl_ok replace e1.1 e7.1
ctl_ok fail e3.1
[ "$out" = "e3.1 marked faulty; recovery onto a spare starts; the replace of slot 0 waits until it has finished" ] ||
  lab_die "fail e3.1 during the replace answered: $out"
# at 2 MB/s the copy of a 32M shelf takes 16 s: the recovery must not wait for it
wait_status "replace slot 0 \(e1.1 -> e7.1\) .*waiting: recovery of slot 2 runs"
grep -q "recovery slot 2 (e6.1)" <<<"$out" || lab_die "the replace waits, for no recovery: $out"
json=$("$aoeraid" status -c "$ctl" --json)
[ "$(jq -r '"\(.replace.waiting) \(.replace.slot)"' <<<"$json")" = "true 0" ] ||
  lab_die "status --json does not show the replace waiting: $json"
echo "ok: the recovery of slot 2 runs while the replace of slot 0 waits:"
grep -E "^ +(recovery|replace) " <<<"$out"
ctl_ok speed max=0
wait_recovered 2 e6.1
wait_status "^ +0 +e7.1 +active"
! grep -q "replace slot" <<<"$out" || lab_die "e7.1 holds slot 0, the replace still shown: $out"
[ "$(readback)" = "$want" ] || lab_die "after the recovery and the replace the data differs"
echo "ok: e6.1 took slot 2, then the replace resumed and e7.1 took slot 0, every byte reads back"

# The member a replace copies is failed: its slot goes to the replace's new shelf, which
# is rebuilt from where the copy was (no spare is left: not "give the array a shelf").
ctl_ok speed max=2M
ctl_ok replace e4.1 e2.1
wait_status "replace slot 1 \(e4.1 -> e2.1\)"
ctl_ok fail e4.1
[ "$out" = "e4.1 marked faulty; e2.1, which was replacing it, takes slot 1 and is rebuilt from where the copy was" ] ||
  lab_die "fail e4.1 during its replace answered: $out"
ctl_ok speed max=0
wait_recovered 1 e2.1
[ "$(readback)" = "$want" ] || lab_die "after e2.1 took slot 1 over the data differs"
echo "ok: e2.1 took slot 1 over from its replace, every byte reads back"
plugin_stop
echo "plugin-fail-busy: passed"
