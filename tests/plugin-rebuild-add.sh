#!/usr/bin/env bash
# Hot-add a replacement: RAID1 of two shelves; e2.1 dies; while a client writes,
# `aoeraid add -c SOCK e3.1` gives the array a new shelf, which takes the faulty slot and
# is rebuilt; the data verifies.  Then e1.1 dies too: the array still serves everything
# from e3.1 alone, which proves the copy is real.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 48M 24M

plugin_start "$sock" shelves=e1.1,e2.1 level=1 name=mirror control=$ctl dead-time=2
nbdcopy --flush "$LAB_DIR/data" "$uri"
echo "ok: raid1 of 2, 48 MiB written"

out=$("$aoeraid" add -c "$ctl" e1.1 2>&1) && lab_die "adding an active member was accepted: $out"
echo "$out" | grep >/dev/null "e1.1 is already in the array" || lab_die "add e1.1: unclear refusal: $out"
echo "ok: add of an active member refused: $out"
out=$("$aoeraid" add -c "$ctl" shelf4 2>&1) && lab_die "add of a bad address accepted: $out"
echo "$out" | grep >/dev/null "'shelf4' is not a shelf address" || lab_die "add shelf4: unclear: $out"
echo "ok: add of a bad address refused: $out"

lab_kill 2
# The client rewrites the same 24 MiB over and over until the recovery is done.
: >"$LAB_DIR/passes"
lab_bg writer bash -c 'while [ ! -e "$1/stop" ]; do
  nbdcopy --flush "$1/more" "$2" || exit 1; echo >>"$1/passes"; done' _ "$LAB_DIR" "$uri"
out=$("$aoeraid" add -c "$ctl" e3.1) || lab_die "add e3.1 failed: $out"
echo "$out" | grep >/dev/null "added e3.1 as a spare" || lab_die "add e3.1: $out"
wait_recovered 1 e3.1
touch "$LAB_DIR/stop"
wait "$writer" || lab_die "the client's writes failed during the hot-add and recovery"
[ -n "$seen_recovery" ] || lab_die "no status poll saw the recovery running"
echo "ok: the client wrote $(wc -l <"$LAB_DIR/passes") passes of 24 MiB meanwhile"
[ "$(readback)" = "$want" ] || lab_die "after recovery: data differs"
echo "ok: e2.1 killed, e3.1 hot-added while a client wrote: recovered, data verifies"
# e2.1 is out of every slot but still this server's, as md --detail lists a faulty device
# until --remove: status names it and what to do (it said nothing of it); once removed, not
status | grep >/dev/null "^  former member: e2.1 (its slot is another's since; aoeraid remove e2.1 releases its shelf, aoeraid add e2.1 makes it a spare)$" ||
  lab_die "status does not name the former member e2.1: $(status)"
[ "$("$aoeraid" status -c "$ctl" --json | jq -c .let_go)" = '["e2.1"]' ] ||
  lab_die "status json: let_go is not e2.1: $("$aoeraid" status -c "$ctl" --json | jq -c .let_go)"
ctl_ok remove e2.1
status | grep -w "former member" && lab_die "e2.1 removed: status still names it a former member"
echo "ok: status names the former member e2.1 until it is removed"

lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "with e1.1 gone too: data differs"
status | grep >/dev/null -E "^ +1 +e3.1 +active" || lab_die "e3.1 not serving: $(status)"
plugin_stop
echo "ok: e1.1 killed as well: served from e3.1 alone, data verifies"
echo "plugin-rebuild-add: passed"
