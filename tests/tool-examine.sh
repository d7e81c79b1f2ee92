#!/usr/bin/env bash
# aoeraid examine (md's --examine and --examine --scan): each shelf's superblock (array,
# level, slot, state), a blank shelf said blank, the array's summary with the command that
# starts it; a member that missed writes marked stale (text and JSON); examining writes
# nothing; a bad address is a usage error, a shelf that does not answer is named; a shelf
# named that does not answer or has no superblock is exit 1 (mdadm --examine's); probe
# finds its shelf the same way.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 90
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
sock=$LAB_DIR/nbd.sock
uri="nbd+unix:///?socket=$sock"
aoeraid=$top_builddir/aoeraid
examine() { lab_exec "$aoeraid" examine -i h0 "$@"; }
# The block of one shelf in the text output: from its "eS.S  SIZE" line to the blank line.
block() { awk -v s="$1" '$1 == s { on = 1 } on && /^$/ { exit } on' "$LAB_DIR/ex.txt"; }
field() { block "$1" | sed -n "s/^ *$2 : //p"; }

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 name=ex
head -c 1M /dev/urandom | nbdcopy --flush - "$uri"
plugin_stop

before=$(shelves_sum)
examine >"$LAB_DIR/ex.txt" || lab_die "examine failed: $(cat "$LAB_DIR/ex.txt")"
cat "$LAB_DIR/ex.txt"
for i in 1 2 3; do
  s=e$i.1
  [ "$(field $s array)" = ex ] || lab_die "$s: array is not 'ex': $(block $s)"
  [ "$(field $s level)" = raid5 ] || lab_die "$s: level is not raid5: $(block $s)"
  [ "$(field $s role)" = "slot $((i - 1))" ] || lab_die "$s: not in slot $((i - 1)): $(block $s)"
  [ "$(field $s state)" = clean ] || lab_die "$s: not clean: $(block $s)"
done
block e4.1 | grep >/dev/null "no aoeraid superblock: blank" || lab_die "e4.1 not said blank: $(block e4.1)"
grep -q "^ARRAY name=ex .* level=raid5 members=3" "$LAB_DIR/ex.txt" || lab_die "no ARRAY line"
grep -qF "start: nbdkit aoeraid shelves=e1.1,e2.1,e3.1" "$LAB_DIR/ex.txt" ||
  lab_die "the summary does not give the start command"
grep -q "starts degraded" "$LAB_DIR/ex.txt" && lab_die "a whole start said degraded"
[ "$(shelves_sum)" = "$before" ] || lab_die "examine wrote to a shelf"
echo "ok: e1.1..e3.1 in array ex (raid5, slots 0-2, clean), e4.1 blank, start command given"

# One member of the raid5 examined alone: too few to start it, so no start command (it
# gave 'start: nbdkit aoeraid shelves=e1.1', which assembly can only refuse).
# Ten minutes of -w: the discovery ends once e1.1 answered, else the lab's bound ends the
# test (md's --examine of a disk is instant).
examine -w 600000 e1.1 >"$LAB_DIR/ex.txt" || lab_die "examine e1.1 failed: $(cat "$LAB_DIR/ex.txt")"
grep -qx "  start: none: the members examined are too few to start it (slot 1: no shelf examined holds it; slot 2: no shelf examined holds it); examine its other shelves too, or start it by uuid (scan:)" \
  "$LAB_DIR/ex.txt" || lab_die "examine e1.1 alone: $(grep "start" "$LAB_DIR/ex.txt")"
[ "$(examine --json e1.1 | jq -r '.arrays[0].command')" = null ] ||
  lab_die "examine --json e1.1 alone: command $(examine --json e1.1 | jq -r '.arrays[0].command')"
echo "ok: one member of three examined alone: start: none, too few, no command"

# e2.1 misses writes: it is behind the others.
lab_kill 2
plugin_start "$sock" shelves=e1.1,e2.1,e3.1
head -c 1M /dev/urandom | nbdcopy --flush - "$uri"
plugin_stop
lab_start 2
before=$(shelves_sum)
examine >"$LAB_DIR/ex.txt" || lab_die "examine failed: $(cat "$LAB_DIR/ex.txt")"
sed -n '/^ARRAY/,$p' "$LAB_DIR/ex.txt"
grep -Eq "^  slot 1 +e2.1 +events [0-9]+ .*stale" "$LAB_DIR/ex.txt" ||
  lab_die "e2.1 not marked stale in slot 1"
grep -Eq "^  slot 0 +e1\.1 .*stale" "$LAB_DIR/ex.txt" && lab_die "e1.1 marked stale"
grep -qF "start: nbdkit aoeraid shelves=e1.1,e3.1" "$LAB_DIR/ex.txt" ||
  lab_die "the start command does not leave the stale e2.1 out"
[ "$(field e2.1 events)" -lt "$(field e1.1 events)" ] || lab_die "e2.1's events are not behind"
# the start's note: it starts degraded, and why (it said nothing of it)
grep -qx "  starts degraded: slot 1: e2\.1 is stale (events $(field e2.1 events) < $(field e1.1 events)) and left out: once started, aoeraid add -c SOCK e2\.1 re-adds it (from the write-intent bitmap, else rebuilt in full)" \
  "$LAB_DIR/ex.txt" || lab_die "no note that the start is degraded: $(grep start "$LAB_DIR/ex.txt")"
examine --json >"$LAB_DIR/ex.json" || lab_die "examine --json failed"
jq -e . "$LAB_DIR/ex.json" >/dev/null || lab_die "examine --json does not parse: $(cat "$LAB_DIR/ex.json")"
q() { jq -r "$1" "$LAB_DIR/ex.json"; }
[ "$(q '.arrays | length')" = 1 ] || lab_die "json: not one array"
[ "$(q '.arrays[0].slots[] | select(.shelf == "e2.1") | .stale')" = true ] ||
  lab_die "json: e2.1 not stale"
[ "$(q '[.arrays[0].slots[] | select(.stale) | .shelf] | join(",")')" = e2.1 ] ||
  lab_die "json: another shelf than e2.1 stale"
[ "$(q '.arrays[0].slots[1].slot')" = 1 ] || lab_die "json: slot 1 not named"
q '.arrays[0].starts_degraded' | grep -q "^slot 1: e2\.1 is stale" ||
  lab_die "json: starts_degraded: $(q '.arrays[0].starts_degraded')"
[ "$(q '.shelves[] | select(.name == "e3.1") | "\(.array_name) \(.level) \(.slot)"')" = "ex raid5 2" ] ||
  lab_die "json: e3.1 is not slot 2 of ex"
[ "$(q '.shelves[] | select(.name == "e4.1") | "\(.superblock) \(.blank)"')" = "none true" ] ||
  lab_die "json: e4.1 not blank"
[ "$(shelves_sum)" = "$before" ] || lab_die "examine wrote to a shelf"
echo "ok: e2.1 stale in slot 1 (text and json), left out of the start command; nothing written"

# Shelves named, as mdadm --examine with devices named: one that does not answer, or holds
# no superblock, is exit 1, named on stderr; the others are printed all the same.
set +e
examine -w 300 e1.1 e9.1 >"$LAB_DIR/ex.txt" 2>"$LAB_DIR/ex.err"; rc=$?
set -e
[ $rc = 1 ] || lab_die "e1.1 e9.1 (e9.1 silent): exit $rc, not 1: $(cat "$LAB_DIR/ex.err")"
grep -q "e9\.1 did not answer on h0" "$LAB_DIR/ex.err" || lab_die "e9.1 not named: $(cat "$LAB_DIR/ex.err")"
[ "$(field e1.1 array)" = ex ] || lab_die "e1.1 not printed beside the silent e9.1: $(cat "$LAB_DIR/ex.txt")"
set +e
examine e1.1 e4.1 >"$LAB_DIR/ex.txt" 2>"$LAB_DIR/ex.err"; rc=$?
set -e
[ $rc = 1 ] || lab_die "e1.1 e4.1 (e4.1 blank): exit $rc, not 1: $(cat "$LAB_DIR/ex.err")"
grep -q "^aoeraid: examine: e4\.1: no aoeraid superblock: blank" "$LAB_DIR/ex.err" ||
  lab_die "the blank e4.1 not named on stderr: $(cat "$LAB_DIR/ex.err")"
[ "$(field e1.1 array)" = ex ] || lab_die "e1.1 not printed beside the blank e4.1: $(cat "$LAB_DIR/ex.txt")"
examine e1.1 e3.1 >"$LAB_DIR/ex.txt" 2>"$LAB_DIR/ex.err" ||
  lab_die "e1.1 e3.1 (both members): exit 1: $(cat "$LAB_DIR/ex.err")"
[ ! -s "$LAB_DIR/ex.err" ] || lab_die "e1.1 e3.1: said on stderr: $(cat "$LAB_DIR/ex.err")"
echo "ok: named: e9.1 silent or e4.1 blank is exit 1, named on stderr, e1.1 printed; two members 0"

set +e
out=$(examine e1 2>&1); rc=$?
set -e
[ $rc = 2 ] || lab_die "a bad address: exit $rc, not 2: $out"
echo "$out" | grep >/dev/null "'e1' is not a shelf address: give SHELF.SLOT" || lab_die "bad address: $out"
set +e
out=$(examine -w 300 e9.1 2>&1); rc=$?
set -e
[ $rc = 1 ] || lab_die "a shelf that does not answer: exit $rc, not 1: $out"
echo "$out" | grep >/dev/null "e9.1 did not answer on h0" || lab_die "e9.1 not named: $out"
echo "ok: a bad address is a usage error (2), e9.1 not answering is named (1)"

# probe finds its shelf as examine does: ten minutes of -w, the discovery ends once e4.1
# answered (it waited a fixed 500 ms), else the lab's bound ends the test; a shelf that
# does not answer is named within -w, exit 1.
out=$(lab_exec "$aoeraid" probe -i h0 -w 600000 e4.1 read 1M) || lab_die "probe e4.1 failed: $out"
grep -q "^read e4\.1 via h0: 1048576 bytes in " <<<"$out" || lab_die "probe e4.1: $out"
set +e
out=$(lab_exec "$aoeraid" probe -i h0 -w 300 e9.1 2>&1); rc=$?
set -e
[ $rc = 1 ] || lab_die "probe of a shelf that does not answer: exit $rc, not 1: $out"
grep -q "e9\.1 did not answer on h0 within 300 ms" <<<"$out" || lab_die "probe: e9.1 not named: $out"
echo "ok: probe ends its discovery once e4.1 answered (-w 600000), names e9.1 silent within -w"
echo "tool-examine: passed"
