#!/usr/bin/env bash
# readonly=true (md's --readonly): a RAID5 of e1.1-e3.1 holding data is stopped cleanly and
# e3.1's shelf dies; started read-only (with a blank e4.1 in spares=) it serves the data
# degraded to a read-only NBD export, refuses a client write and every control request
# that would change it (add, check, fail, remove, replace, grow), starts no recovery, and
# not one byte of any shelf's disk changes, superblocks and bitmap included.  On blank
# shelves it refuses to start (it never creates); leaving out a live member, too.  Started
# with nbdkit -r instead, by uuid=, it is just as read-only.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 32M 0
want=$(md5sum <"$LAB_DIR/data")

plugin_fails "readonly on blank shelves" \
  "no aoeraid array on these shelves, and readonly=true never creates one" \
  shelves=e1.1,e2.1,e3.1 level=5 readonly=true
plugin_fails "readonly= not a boolean" "readonly: 'maybe' is not true or false" \
  shelves=e1.1,e2.1,e3.1 readonly=maybe

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the initial resync"
plugin_stop
# A read-only start by shelves= leaving out the live e3.1 is refused too (md: --readonly
# is no --run), in words true of it: read-only, e3.1 stays current; the array has no
# name, so it is named and found by its uuid.
uuid=$(lab_exec "$aoeraid" examine -i h0 --json | jq -r '[.. | objects | select(has("array_uuid")) | .array_uuid][0]')
sum=$(shelves_sum)
plugin_fails "a read-only start leaving out the live e3.1 of an unnamed array" \
  "error: e3\.1 answers and holds slot 2 of the array uuid $uuid \(current: events [0-9]+, the array at [0-9]+\), but is not in shelves=: list it in shelves= \(or start by uuid=$uuid, which finds every shelf\), or give run=true to start without it \(degraded; read-only, so it stays current\)$" \
  shelves=e1.1,e2.1 readonly=true
[ "$(shelves_sum)" = "$sum" ] || lab_die "the refused start wrote to a shelf"
# run=true starts it without e3.1, writing nothing, and names e3.1 and the array by uuid
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" shelves=e1.1,e2.1 readonly=true run=true
grep -q "warning: e3.1 answers and holds slot 2 of the array uuid $uuid (events [0-9]*, the array now at [0-9]*), but is not in shelves=: the array starts without it" \
  "$LAB_DIR/nbdkit.log" || lab_die "run=true: e3.1 not named: $(cat "$LAB_DIR/nbdkit.log")"
plugin_stop
[ "$(shelves_sum)" = "$sum" ] || lab_die "the read-only start with run=true wrote to a shelf"
echo "ok: run=true: started read-only without e3.1, named, nothing written"
lab_kill 3
before=$(shelves_sum)

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 spares=e4.1 control="$ctl" readonly=true
status | grep >/dev/null "state degraded, read-only" || lab_die "status: $(status)"
[ "$(readback)" = "$want" ] || lab_die "the data read back differs"
nbdsh -u "$uri" -c 'assert h.is_read_only()' || lab_die "the export is not read-only"
nbdsh -u "$uri" -c 'h.pwrite(b"x" * 512, 0)' 2>/dev/null && lab_die "a client write went through"
for req in "add e4.1" "check" "fail e1.1" "remove e4.1" "replace e1.1 e4.1" "grow e4.1"; do
  # shellcheck disable=SC2086
  set -- $req
  verb=$1; shift
  out=$("$aoeraid" "$verb" -c "$ctl" "$@" 2>&1) && lab_die "aoeraid $req was not refused: $out"
  echo "$out" | grep >/dev/null "the array is read-only (readonly=true)" ||
    lab_die "aoeraid $req answered: $out"
done
echo "ok: every change refused"
grep -q "readonly=true: the blank shelves of spares= are not made spares" "$LAB_DIR/nbdkit.log" ||
  lab_die "the log does not say the blank spare was left alone"
sleep 1                                  # a monitor, if one ran, would have started a recovery
plugin_stop
[ "$(shelves_sum)" = "$before" ] || lab_die "a shelf's disk changed during the read-only run"

# nbdkit -r (bundled: -fr) is readonly=true: started by uuid= (a scan), degraded, it says
# so, writes nothing (no superblock update for the missing e3.1, no recovery) and refuses
# a change in the same words, naming -r.
: >"$LAB_DIR/nbdkit.log"
AOERAID_NBDKIT_OPTS=-fr plugin_start "$sock" uuid="$uuid" control="$ctl"
grep -q "nbdkit -r: the array is assembled read-only, as with readonly=true: nothing is written to any shelf" \
  "$LAB_DIR/nbdkit.log" || lab_die "nbdkit -r: not said: $(cat "$LAB_DIR/nbdkit.log")"
status | grep >/dev/null "state degraded, read-only" || lab_die "nbdkit -r: status: $(status)"
[ "$(readback)" = "$want" ] || lab_die "nbdkit -r: the data read back differs"
out=$("$aoeraid" add -c "$ctl" e4.1 2>&1) && lab_die "nbdkit -r: aoeraid add was not refused: $out"
echo "$out" | grep >/dev/null "the array is read-only (nbdkit -r): restart nbdkit without -r" ||
  lab_die "nbdkit -r: aoeraid add answered: $out"
sleep 1                                  # a monitor, if one ran, would have started a recovery
plugin_stop
[ "$(shelves_sum)" = "$before" ] || lab_die "a shelf's disk changed during the nbdkit -r run"
echo "ok: nbdkit -r: read-only, nothing written, add refused"
echo "plugin-readonly: passed"
