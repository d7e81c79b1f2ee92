#!/usr/bin/env bash
# The control socket serves several clients at once: while an add waits on a frozen shelf
# (SIGSTOP: it takes the frames and answers none, so the add waits until it is thawed or
# declared down after dead-time), `aoeraid status` and `status --json` answer within -t 5,
# the add still running when they do; once the shelf is thawed the add ends well.  Before,
# one client at a time: each status waited for the add and gave up after 5 s.  A speed
# request, which waits for the add (the command lock), shows the add under way first.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"
. "$top_srcdir/tests/plugin-rebuild-lib.sh"

lab_up -n 3 -s 16M
# dead-time=30: the frozen shelf is not declared down (failing the add) while we look
plugin_start "$sock" shelves=e1.1,e2.1 level=1 control="$ctl" dead-time=30
wait_clean "the new mirror"
# e3.1 answered discovery: the add finds it up and waits on its answers (the reservation)
lab_freeze 3
"$aoeraid" add -t 100 -c "$ctl" e3.1 >"$LAB_DIR/add.out" 2>&1 &
adder=$!
lab_track "$adder"
# Wait until the add holds the command lock: a speed request (which takes that lock, as
# every request but status does) goes unanswered.  Until then a status could answer only
# because the add had not reached the server yet, and prove nothing.
held=
for _ in $(seq 60); do
  lab_alive "$adder" || lab_die "the add ended before it could be seen waiting: $(cat "$LAB_DIR/add.out")"
  if probe=$("$aoeraid" speed -t 1 -c "$ctl" 2>&1); then
    sleep 0.1; continue         # answered: the add is not in the server's hands yet
  fi
  grep -Eq "the server (gave no answer|took no new connection) within 1 s" <<<"$probe" ||
    lab_die "speed beside the add failed otherwise than by waiting: $probe"
  held=1; break
done
[ -n "$held" ] || lab_die "the add never held the command lock (speed always answered): $(cat "$LAB_DIR/add.out")"
echo "ok: the add waits on the frozen e3.1 in the server's hands: speed waits behind it"

for form in "" --json; do
  # shellcheck disable=SC2086 # form: no word or one
  out=$("$aoeraid" status $form -t 5 -c "$ctl" 2>&1) ||
    lab_die "status $form beside an add that waits on a frozen shelf: $out"
  lab_alive "$adder" || lab_die "the add ended before status $form answered: $(cat "$LAB_DIR/add.out")"
  if [ -z "$form" ]; then
    grep -q "state clean" <<<"$out" || lab_die "status beside the add: $out"
    grep -q "spares none" <<<"$out" || lab_die "status beside the add shows a spare already: $out"
  else
    python3 -c 'import json, sys; d = json.load(sys.stdin); assert d["state"] == "clean" and d["spares"] == [], d' <<<"$out" ||
      lab_die "status --json beside the add: $out"
  fi
  echo "ok: status $form answered while the add waits on the frozen e3.1"
done

lab_thaw 3
wait "$adder" || lab_die "the add failed once e3.1 was thawed: $(cat "$LAB_DIR/add.out")"
grep -q "added e3.1 as a spare" "$LAB_DIR/add.out" || lab_die "add e3.1: $(cat "$LAB_DIR/add.out")"
status | grep -q "spares e3.1" || lab_die "e3.1 not a spare after the add: $(status)"
echo "ok: e3.1 thawed: the add ended well: $(cat "$LAB_DIR/add.out")"
plugin_stop
echo "plugin-control-concurrent: passed"
