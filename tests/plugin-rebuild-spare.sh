#!/usr/bin/env bash
# A hot spare takes over: RAID5 of three shelves with spares=e4.1; e2.1 dies, a write
# marks it faulty, e4.1 takes its slot and is rebuilt while the array serves
# (`aoeraid status` shows the recovery, then e4.1 active); the data verifies.  Restarted
# with e2.1 still gone, the array assembles clean with e4.1 active.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 32M 8M

plugin_fails "a shelf in both lists" 'e3.1 is in both shelves= and spares=' \
  shelves=e1.1,e2.1,e3.1 spares=e3.1 level=5
plugin_fails "a bad spare address" "spares: 'x4' is not a shelf address" \
  shelves=e1.1,e2.1,e3.1 spares=x4 level=5

args=(shelves=e1.1,e2.1,e3.1 spares=e4.1 control=$ctl dead-time=2)
plugin_start "$sock" "${args[@]}" level=5 name=spare
status | grep >/dev/null "spares e4.1" || lab_die "the spare is not shown: $(status)"
status | grep >/dev/null "state clean" || lab_die "new array not clean: $(status)"
nbdcopy --flush "$LAB_DIR/data" "$uri"
echo "ok: raid5 of 3 with spare e4.1, 32 MiB written"

lab_kill 2
nbdcopy --flush "$LAB_DIR/more" "$uri"     # the write finds e2.1 dead: faulty
wait_recovered 1 e4.1
echo "$out" | grep >/dev/null "spares none" || lab_die "spare still listed: $out"
[ -n "$seen_recovery" ] || echo "note: recovery finished before the first status poll"
[ "$(readback)" = "$want" ] || lab_die "after recovery: data differs"
echo "ok: e2.1 killed: e4.1 took slot 1 automatically, recovery finished, data verifies"

plugin_stop
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" "${args[@]}"
out=$(status)
echo "$out" | grep >/dev/null "state clean" || lab_die "restart: not clean: $out"
echo "$out" | grep >/dev/null -E "^ +1 +e4.1 +active" || lab_die "restart: e4.1 not active in slot 1: $out"
grep -qi "degraded" "$LAB_DIR/nbdkit.log" && lab_die "restart: degraded: $(cat "$LAB_DIR/nbdkit.log")"
[ "$(readback)" = "$want" ] || lab_die "after restart: data differs"
plugin_stop
echo "ok: restarted with e2.1 still gone: clean, e4.1 active, data verifies"
echo "plugin-rebuild-spare: passed"
