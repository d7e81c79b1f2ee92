#!/usr/bin/env bash
# `aoeraid fail` while a reshape or a replace of another slot runs, with a spare: the
# answer says the recovery onto the spare starts once that run has finished (a rebuild
# works on one layout; the monitor runs a replace to its end), not to add a shelf, nor
# that it starts now; then the run ends, the spare takes the failed slot and every byte
# reads back.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 7 -s 64M
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
fail_during e3.1 "replace slot 0 (e1.1 -> e7.1)" \
  "e3.1 marked faulty; recovery onto a spare starts once the replace has finished"
wait_recovered 2 e6.1
grep -Eq "^ +0 +e7.1 +active" <<<"$out" || lab_die "e7.1 did not take slot 0: $out"
[ "$(readback)" = "$want" ] || lab_die "after the replace and the recovery the data differs"
echo "ok: the replace ended, e7.1 took slot 0, e6.1 slot 2, every byte reads back"
plugin_stop
echo "plugin-fail-busy: passed"
