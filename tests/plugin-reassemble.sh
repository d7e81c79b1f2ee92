#!/usr/bin/env bash
# An array reassembles itself from its superblocks: stop nbdkit, start it again with only
# shelves=, the data is intact; start it with a shelf missing, it serves degraded with a
# warning and the data is intact; a live member left out of shelves= refuses the start
# (run=true starts it; two left out are both named), also with a stale copy of it listed;
# a member that missed writes is stale and left out, and listed alone is named stale.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
sock=$LAB_DIR/nbd.sock
uri="nbd+unix:///?socket=$sock"
head -c 32M /dev/urandom >"$LAB_DIR/data"
want=$(md5sum <"$LAB_DIR/data")
readback() { (set +o pipefail; nbdcopy "$uri" - 2>/dev/null | head -c "${1:-32M}" | md5sum); }

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 name=keep
grep -q "creat" "$LAB_DIR/nbdkit.log" || lab_die "creating the array was not said in the log"
nbdcopy --flush "$LAB_DIR/data" "$uri"
plugin_stop
echo "ok: created raid5 and wrote 32 MiB"

# poll=false: every request sleeps until the AoE loop hands it its replies; 4 KiB reads
# one at a time (the case polling serves otherwise) must still come back right.
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 poll=false
[ "$(readback)" = "$want" ] || lab_die "reassembled array: data differs"
nbdsh -u "$uri" -c "
import random
data = open('$LAB_DIR/data', 'rb').read()
for _ in range(200):
    off = random.randrange(len(data) // 4096) * 4096
    assert h.pread(4096, off) == data[off:off + 4096], 'differs at %d' % off
" || lab_die "poll=false: single 4 KiB reads differ"
plugin_stop
echo "ok: reassembled from superblocks with only shelves= (poll=false), data intact"

# A typo in shelves= (e3.2 for e3.1) is a shelf that does not answer: the start goes on
# degraded, as with a dead shelf, but must name it (and a spares= one) so the admin sees
# the typo before the array runs on without e3.1.  (e3.1 answers, so without run=true the
# start is refused.)
# The listed e3.2 that does not answer does not hide the live e3.1 left out: refused
# (raid5 would start on e1.1 and e2.1 and make e3.1 stale), nothing written.
sum=$(shelves_sum)
plugin_fails "a start by shelves= with e3.2 silent and the live e3.1 left out" \
  "error: e3\.1 answers and holds slot 2 of 'keep' .*but is not in shelves=" \
  shelves=e1.1,e2.1,e3.2 spares=e7.1
[ "$(shelves_sum)" = "$sum" ] || lab_die "the refused start wrote to a shelf"
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" shelves=e1.1,e2.1,e3.2 spares=e7.1 readonly=true run=true
grep -q "warning: e3.2, e7.1 did not answer on h0 within 2.0s: the array starts without them" \
  "$LAB_DIR/nbdkit.log" || lab_die "typo'd shelf not named: $(cat "$LAB_DIR/nbdkit.log")"
plugin_stop
echo "ok: e3.2 (a typo for e3.1) and a spare that did not answer are named in the log"

# A shelf left out of shelves= (a typo, a list from before a grow) that answers holding
# its slot, current: the start is refused before anything is written, as md refuses an
# explicit device list short of a working disk ("use --run to insist"); started, the
# array would bump its events and make e3.1 stale.
events() { lab_exec aoeraid examine -i h0 --json |
             jq -c '[.. | objects | select(has("member_uuid")) | .events]'; }
before=$(events) sum=$(shelves_sum)
plugin_fails "a start by shelves= leaving out the live e3.1" \
  "error: e3\.1 answers and holds slot 2 of 'keep' \(current: events [0-9]+, the array at [0-9]+\), but is not in shelves=: list it in shelves= \(or start by name=keep, which finds every shelf\), or give run=true to start without it" \
  shelves=e1.1,e2.1
[ "$(events)" = "$before" ] || lab_die "the refused start changed the events: $before, now $(events)"
[ "$(shelves_sum)" = "$sum" ] || lab_die "the refused start wrote to a shelf"
lab_exec aoeraid examine -i h0 | grep -w stale &&
  lab_die "the refused start left e3.1 stale: $(lab_exec aoeraid examine -i h0)"
echo "ok: nothing written (events $before on all three shelves), e3.1 not stale"
# Two left out: the one line names both, or the admin fixes one and is refused again.
plugin_fails "a start by shelves= leaving out the live e2.1 and e3.1" \
  "error: e2\.1 \(slot 1\) and e3\.1 \(slot 2\) answer and hold slots of 'keep' \(current, the array at events [0-9]+\), but are not in shelves=: list them in shelves= \(or start by name=keep, which finds every shelf\), or give run=true to start without them \(degraded: they go stale; 'aoeraid add e2\.1' and 'aoeraid add e3\.1' take them back\)$" \
  shelves=e1.1
[ "$(shelves_sum)" = "$sum" ] || lab_die "the refused start (two left out) wrote to a shelf"
# run=true (md's --run) starts it degraded anyway, and names e3.1 (the degraded warning
# names only the slot); read-only, so that e3.1 stays current for what follows
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" shelves=e1.1,e2.1 readonly=true run=true
grep -q "warning: e3.1 answers and holds slot 2 of 'keep' (events [0-9]*, the array now at [0-9]*), but is not in shelves=: the array starts without it; list it in shelves=" \
  "$LAB_DIR/nbdkit.log" || lab_die "unlisted e3.1 not named: $(cat "$LAB_DIR/nbdkit.log")"
grep -Eq "is degraded: slot 2 missing$" "$LAB_DIR/nbdkit.log" ||
  lab_die "run=true: not degraded with slot 2 missing: $(cat "$LAB_DIR/nbdkit.log")"
[ "$(readback)" = "$want" ] || lab_die "run=true without e3.1: data differs"
plugin_stop
echo "ok: run=true starts without e3.1, degraded, and names it in the log"

# A stale copy of e3.1 listed in its place (e4.1: e3.1's disk copied while the array was
# stopped, left behind as the array went on) does not hold slot 2: assembly leaves it out
# as stale, so leaving out the live e3.1 is refused all the same.
shelf_events() { lab_exec aoeraid examine -i h0 --json |
                   jq -r --arg s "$1" '[.. | objects | select(.name? == $s and has("events")) | .events][0]'; }
dd if="${LAB_IMG[3]}" of="${LAB_IMG[4]}" bs=1M conv=notrunc status=none
copy=$(shelf_events e4.1)
for _ in 1 2 3; do            # a write (the same bytes) moves the array on
  [ "$(shelf_events e3.1)" -ge $((copy + 2)) ] && break
  plugin_start "$sock" shelves=e1.1,e2.1,e3.1
  nbdsh -u "$uri" -c "h.pwrite(open('$LAB_DIR/data', 'rb').read(4096), 0); h.flush()"
  plugin_stop
done
[ "$(shelf_events e3.1)" -ge $((copy + 2)) ] ||
  lab_die "e3.1 not two events past its copy e4.1 ($copy): $(shelf_events e3.1)"
plugin_fails "a start by shelves= with a stale copy of e3.1 (e4.1) in its place" \
  "error: e3\.1 answers and holds slot 2 of 'keep' \(current: events [0-9]+, the array at [0-9]+\), but is not in shelves=" \
  shelves=e1.1,e2.1,e4.1
dd if=/dev/zero of="${LAB_IMG[4]}" bs=1M count=1 conv=notrunc status=none
echo "ok: a stale copy listed in e3.1's place does not stand for it"

lab_kill 2
: >"$LAB_DIR/nbdkit.log"
ctl=$LAB_DIR/control.sock
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 control="$ctl"
grep -Eq "is degraded: slot 1 missing$" "$LAB_DIR/nbdkit.log" ||
  lab_die "no degraded warning naming slot 1 missing: $(cat "$LAB_DIR/nbdkit.log")"
# The degraded warning names the slot only: the shelf that did not answer must be named.
grep -q "warning: e2.1 did not answer on h0" "$LAB_DIR/nbdkit.log" ||
  lab_die "the shelf that did not answer is not named: $(cat "$LAB_DIR/nbdkit.log")"
[ "$(readback)" = "$want" ] || lab_die "degraded array: data differs"
echo "ok: e2.1 missing: served degraded with a warning, data intact"
# The status view agrees: degraded, slot 1 missing, the other shelves up and answering.
aoeraid status -c "$ctl" >"$LAB_DIR/status.txt"
cat "$LAB_DIR/status.txt"
grep -q "state degraded" "$LAB_DIR/status.txt" || lab_die "status does not say degraded"
grep -Eq "^ +1 +- +missing" "$LAB_DIR/status.txt" || lab_die "status does not show slot 1 missing"
aoeraid status -c "$ctl" --json >"$LAB_DIR/status.json"
[ "$(jq -r '[.members[] | select(.shelf.up == true) | .name] | join(",")' "$LAB_DIR/status.json")" = \
  "e1.1,e3.1" ] || lab_die "status json: expected e1.1,e3.1 up: $(cat "$LAB_DIR/status.json")"
[ "$(jq -r '.members[0].shelf.frames > 0' "$LAB_DIR/status.json")" = true ] ||
  lab_die "status json: no frames counted for e1.1"
echo "ok: aoeraid status (text and json) shows degraded, slot 1 missing, e1.1 and e3.1 up"
# Writes while e2.1 is gone make it stale.
head -c 4M /dev/urandom >"$LAB_DIR/more"
nbdcopy --flush "$LAB_DIR/more" "$uri"
plugin_stop
# A start refused after assembly (a parameter the array cannot take) closes the array as
# a stop does: it must not stay dirty, which with e2.1 away refuses the next start as
# dirty and degraded (the write hole) though nothing was written.
plugin_fails "writemostly= on a raid5" "writemostly: write-mostly needs mirror copies" \
  shelves=e1.1,e2.1,e3.1 writemostly=e1.1
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" shelves=e1.1,e2.1,e3.1
[ "$(readback 4M)" = "$(md5sum <"$LAB_DIR/more")" ] || lab_die "after a refused start: data differs"
plugin_stop
echo "ok: a start refused after assembly left the array clean: the next start serves degraded"

lab_start 2
# Only the stale e2.1 listed: its superblock (an old view) calls e1.1 and e3.1 current at
# its own events; the line must say the listed e2.1 is the stale one, behind those left
# out, which hold the array now.  Read-only or not: nothing is written.
sum=$(shelves_sum)
for ro in false true; do
  plugin_fails "a start by shelves= naming only the stale e2.1 (readonly=$ro)" \
    "error: e2\.1 in shelves= is stale \(events ([0-9]+) < ([0-9]+)\): e1\.1 \(slot 0\) and e3\.1 \(slot 2\), not in shelves=, hold 'keep' at events \2: list them in shelves= \(or start by name=keep, which finds every shelf\), and e2\.1 is then left out, for 'aoeraid add' to take back$" \
    shelves=e2.1 readonly=$ro
done
[ "$(shelves_sum)" = "$sum" ] || lab_die "the refused start (stale e2.1 alone) wrote to a shelf"
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 control="$ctl"
# the stale line says how to take it back
grep -q "member e2.1 (slot 1) is stale (events [0-9]*, array at [0-9]*); left out: it needs a rebuild (aoeraid add e2.1 re-adds it)$" \
  "$LAB_DIR/nbdkit.log" || lab_die "e2.1 not reported stale: $(cat "$LAB_DIR/nbdkit.log")"
# the degraded warning says what the slot is, as status would: stale, not missing, and whose
grep -Eq "is degraded: slot 1 stale e2\.1$" "$LAB_DIR/nbdkit.log" ||
  lab_die "the degraded warning does not say slot 1 stale e2.1: $(grep degraded "$LAB_DIR/nbdkit.log")"
[ "$(readback 4M)" = "$(md5sum <"$LAB_DIR/more")" ] ||
  lab_die "after the stale member came back: newest data differs"
# status names the stale shelf this server holds out, and how to take it back: its slot
# alone says missing
aoeraid status -c "$ctl" >"$LAB_DIR/status.txt"
grep -q "^  left out at the start: e2.1 (slot 1, stale: it missed updates; aoeraid add e2.1 re-adds it)$" \
  "$LAB_DIR/status.txt" || lab_die "status does not name the stale e2.1: $(cat "$LAB_DIR/status.txt")"
[ "$(aoeraid status -c "$ctl" --json | jq -r '.members[1].stale')" = e2.1 ] ||
  lab_die "status json: slot 1 not stale e2.1: $(aoeraid status -c "$ctl" --json)"
aoeraid add -c "$ctl" e2.1
aoeraid status -c "$ctl" | grep -w "left out at the start" &&
  lab_die "e2.1 added: status still says it is left out"
[ "$(aoeraid status -c "$ctl" --json | jq -r '.members[1].stale')" = null ] ||
  lab_die "e2.1 added: status json still says slot 1 stale"
plugin_stop
echo "ok: e2.1 back with older events: reported stale (log and status), left out, newest data served, add takes it back"
echo "plugin-reassemble: passed"
