#!/usr/bin/env bash
# Every mistake is refused with its own clear line, and nothing is written.  A shelf left
# out with force= (its superblock corrupt), removed twice, is said removed already.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 32M
lab_exec nbdkit -f -U - "$AOERAID_PLUGIN" --help >"$LAB_DIR/help" 2>&1 ||
  lab_die "--help failed"
for key in shelves level chunk name iface control dead-time reserve poll auto-readd; do
  grep -q "^$key=" "$LAB_DIR/help" || lab_die "--help does not show $key="
done
nbdkit --dump-plugin "$AOERAID_PLUGIN" | grep >/dev/null '^thread_model=parallel' ||
  lab_die "--dump-plugin: thread model not parallel"
echo "ok: --help lists the parameters, --dump-plugin works"

before=$(shelves_sum)
plugin_fails "typo'd parameter" "unknown parameter 'levle'" shelves=e1.1,e2.1 levle=1
plugin_fails "parameter in capitals" "unknown parameter 'SHELVES': did you mean 'shelves'\\?" SHELVES=e1.1,e2.1 level=1
plugin_fails "unknown level" "unknown level '7'" shelves=e1.1,e2.1 level=7
plugin_fails "bad boolean" "poll: 'maybe' is not true or false" shelves=e1.1,e2.1 level=1 poll=maybe
plugin_fails "bad auto-readd" "auto-readd: 'sometimes' is not true or false" \
  shelves=e1.1,e2.1 level=1 auto-readd=sometimes
plugin_fails "bad chunk" "chunk: '3000' must be a power of two" shelves=e1.1,e2.1 level=0 chunk=3000
plugin_fails "bad bitmap chunk" "bitmap-chunk: '1K' must be 0 \\(no write-intent bitmap\\) or from 64K" \
  shelves=e1.1,e2.1 level=1 bitmap-chunk=1K
plugin_fails "no shelves" "shelves= is required" level=1
plugin_fails "takeover without reservations" "takeover=true takes the shelves' AoE reservations, and reserve=false takes none" \
  shelves=e1.1,e2.1 level=1 takeover=true reserve=false
plugin_fails "bad shelf address" "'e1' is not a shelf address" shelves=e1,e2.1 level=1
plugin_fails "broadcast shelf" "shelves: 'e65535.1' is not a shelf address: write SHELF.SLOT as in shelves=e1.1,e2.1 \\(shelf 0 to 65534, slot 0 to 254\\)$" shelves=e65535.1,e2.1 level=1
plugin_fails "too few shelves" "needs at least 3 shelves" shelves=e1.1,e2.1 level=5
plugin_fails "no level for a new array" "give level=" shelves=e1.1,e2.1
plugin_fails "missing shelf" "e9.1 did not answer on h0" shelves=e1.1,e9.1 level=1
plugin_fails "a name with a space" "name: 'my array' holds byte 0x20 at 3: no spaces" \
  shelves=e1.1,e2.1 level=1 "name=my array"
# A key given twice: refused, not appended (shelves=) nor silently overridden (level=)
plugin_fails "shelves= twice" "shelves= given twice: give it once, comma-separated" \
  shelves=e1.1 shelves=e2.1 level=1
plugin_fails "level= twice" "level= given twice: give it once" shelves=e1.1,e2.1 level=1 level=0
# iface= is repeated for several interfaces, but one interface twice opened it twice (every
# shelf showed two paths through one link); so did aoeraid's -i
plugin_fails "iface= twice" "iface: h0 is given twice: give each interface once" \
  shelves=e1.1,e2.1 level=1 iface=h0
out=$(lab_exec "$top_builddir/aoeraid" discover -i h0 -i h0 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "-i h0 is given twice" <<<"$out" ||
  lab_die "aoeraid discover -i h0 -i h0: exit $rc, want 2 and one line: $out"
echo "ok: aoeraid discover -i h0 -i h0: $out"
plugin_fails "writemostly under two spellings" \
  "writemostly= given twice \\(write_mostly= is the same\\): give it once" \
  shelves=e1.1,e2.1 level=1 writemostly=e1.1 write_mostly=e2.1
plugin_fails "sync-speed-min above sync-speed-max" \
  "sync-speed-min 20M/s is above sync-speed-max 10M/s: give a min at most the max" \
  shelves=e1.1,e2.1 level=1 sync-speed-min=20M sync-speed-max=10M
# control= in a directory that does not exist: refused before the array is created
plugin_fails "control= in no directory" \
  "control=$LAB_DIR/nodir/ctl: No such file or directory: its directory does not exist" \
  shelves=e1.1,e2.1 level=1 control="$LAB_DIR/nodir/ctl"
long=$LAB_DIR/$(printf 'x%.0s' $(seq 120))
# control= naming a file that is no socket (a config file by mistake): it was unlinked
echo keep >"$LAB_DIR/conf"
plugin_fails "control= on a file" \
  "control=$LAB_DIR/conf: File exists: it is no socket \\(a file of yours\\?\\) and is left as it is: give the path of a socket to create" \
  shelves=e1.1,e2.1 level=1 control="$LAB_DIR/conf"
[ "$(cat "$LAB_DIR/conf" 2>&1)" = keep ] || lab_die "control= on a file removed it"
plugin_fails "control= too long" \
  "control=$long: File name too long: a Unix socket's path is 107 bytes at most; give a shorter one" \
  shelves=e1.1,e2.1 level=1 control="$long"
[ "$(shelves_sum)" = "$before" ] || lab_die "a refused start wrote to a shelf"
echo "ok: nothing written by the refusals above"

# Foreign data: something that is not aoeraid in the first 128 KiB of e4.1.
printf 'XFSB-not-ours' | dd of="${LAB_IMG[4]}" bs=1 seek=1024 conv=notrunc status=none
before=$(shelves_sum)
plugin_fails "foreign data" "e4.1 holds data that is not an aoeraid superblock .*: creating an array would destroy it; if it is not needed, wipe it where it is stored \\(wipefs -a on the storage node's disk\\) or add force=true" \
  shelves=e3.1,e4.1 level=1
[ "$(shelves_sum)" = "$before" ] || lab_die "refusing foreign data wrote to a shelf"

# Two arrays, then a mix of their shelves.
plugin_run shelves=e1.1,e2.1 level=1 name=left -- true
dd if=/dev/zero of="${LAB_IMG[4]}" bs=1k count=128 conv=notrunc status=none
# 64K chunks: the starts below without chunk= must not take md's default for a chunk= given
plugin_run shelves=e3.1,e4.1 level=1 chunk=64K name=right -- true
before=$(shelves_sum)
plugin_fails "mixed arrays" "mixed arrays: e1.1 belongs to array 'left'.*e3.1 to array 'right'" \
  shelves=e1.1,e3.1
plugin_fails "level mismatch" "level=0 given, but the array .left. on e1.1 is raid1" shelves=e1.1,e2.1 level=0
# chunk= too (it was ignored: the array served with its own 512K chunks); found by name too
plugin_fails "chunk mismatch" "^nbdkit: error: chunk=64K given, but the array 'left' on e1.1 has chunks of 512K: drop chunk= \(it sizes a new array's chunks\) or give chunk=512K$" \
  shelves=e1.1,e2.1 chunk=64K
plugin_fails "chunk mismatch by name" "chunk=1024K given, but the array 'left' on e[12].1 has chunks of 512K" \
  name=left chunk=1M
# name= with shelves= of another array (a slip: 'right' alone would start degraded)
plugin_fails "name mismatch" \
  "name=left given, but e3.1 holds array 'right' \([0-9a-f-]+\): list the shelves of 'left', or give name= alone to find them" \
  shelves=e3.1 name=left
[ "$(shelves_sum)" = "$before" ] || lab_die "refusing mixed arrays wrote to a shelf"
plugin_run shelves=e1.1,e2.1 chunk=512K -- true || lab_die "chunk= of the array's own size refused"

# A corrupt superblock: flip a byte inside e2.1's superblock (4 KiB at 4 KiB).
printf '\xff' | dd of="${LAB_IMG[2]}" bs=1 seek=4200 conv=notrunc status=none
plugin_fails "corrupt superblock" "e2.1.*(crc|checksum|corrupt)" shelves=e1.1,e2.1 force=false
aoeraid=$top_builddir/aoeraid
# With force=true e2.1 is left out, and raid/ keeps no record of it (no uuid can be read):
# removed, then removed again, the second answer says so, not "not in the array".
plugin_start "$LAB_DIR/left.sock" shelves=e1.1,e2.1 force=true control="$LAB_DIR/left.ctl"
out=$("$aoeraid" remove -c "$LAB_DIR/left.ctl" e2.1 2>&1) || lab_die "remove e2.1: $out"
echo "$out" | grep >/dev/null "^removed e2.1 (the array no longer used it)" ||
  lab_die "remove e2.1 answered: $out"
out=$("$aoeraid" remove -c "$LAB_DIR/left.ctl" e2.1 2>&1) || lab_die "remove e2.1 again: $out"
echo "$out" | grep >/dev/null "^e2.1 was removed already; its shelf is released" ||
  lab_die "removing e2.1 again answered: $out"
plugin_stop
echo "ok: a shelf left out with force, removed twice: the second answer says it was removed already"

# A shelf reserved by another initiator (its own MAC on the same SAN).
lab_host2
plugin_start "$LAB_DIR/right.sock" shelves=e3.1,e4.1
set +e
out=$(ip netns exec "$LAB_NS2" nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 \
        shelves=e3.1,e4.1 --run true 2>&1)
rc=$?
set -e
holder=$(lab_host_mac h0)
[ $rc -ne 0 ] && echo "$out" | grep >/dev/null -i "reserved.*$holder" ||
  lab_die "reserved shelf: expected a refusal naming holder $holder, got (rc $rc): $out"
echo "ok: reserved shelf refused, naming the holder $holder"
plugin_stop
# Released on clean shutdown: the second host may now take it.
ip netns exec "$LAB_NS2" nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 \
   shelves=e3.1,e4.1 --run true || lab_die "shelves not released on clean shutdown"
echo "ok: released on clean shutdown"

# Debug flags: -D aoeraid.frames=1 traces every frame; without it there is no trace.
trace() {
  lab_exec nbdkit -f -v -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 shelves=e3.1,e4.1 "$@" \
    --run 'nbdsh -u "$uri" -c "h.pread(4096, 1 << 20)"' >"$LAB_DIR/trace.log" 2>&1 ||
    lab_die "nbdkit -v $*: $(tail -n 3 "$LAB_DIR/trace.log")"
}
trace -D aoeraid.frames=1
grep -Eq 'aoe: tx e[34]\.1 tag [0-9a-f]{8} cmd 0 ata 2[04] lba [0-9]+ sectors [0-9]+ via h0 ' \
  "$LAB_DIR/trace.log" || lab_die "-D aoeraid.frames=1: no tx line for the read"
grep -Eq 'aoe: rx e[34]\.1 tag ' "$LAB_DIR/trace.log" || lab_die "-D aoeraid.frames=1: no rx line"
trace
grep -q 'aoe: tx ' "$LAB_DIR/trace.log" && lab_die "frames traced without -D aoeraid.frames=1"
echo "ok: -D aoeraid.frames=1 traces frames sent and replies matched, and only then"
# Shelves of different sizes: the array is made (md too, after asking), with a warning
# that names both and what stays unused.
lab_kill 2
truncate -s 48M "${LAB_IMG[2]}"
lab_start 2
dd if=/dev/zero of="${LAB_IMG[1]}" bs=1k count=128 conv=notrunc status=none
dd if=/dev/zero of="${LAB_IMG[2]}" bs=1k count=128 conv=notrunc status=none
plugin_run shelves=e1.1,e2.1 level=1 -- true >"$LAB_DIR/unequal.log" 2>&1 ||
  lab_die "shelves of different sizes: $(cat "$LAB_DIR/unequal.log")"
grep -q "warning: e2.1 holds 48.0 MiB but e1.1 only 32.0 MiB: every member uses what the smallest holds, 16.0 MiB of e2.1 stay unused" \
  "$LAB_DIR/unequal.log" || lab_die "no warning for shelves of different sizes: $(cat "$LAB_DIR/unequal.log")"
echo "ok: shelves of different sizes: created, with a warning naming both"
# The refusals name an array without a name by its uuid (they said "array '' (...)"), and a
# wrong name= comes first: the shelves listed are another array's (e1.1, e2.1: unnamed).
dd if=/dev/zero of="${LAB_IMG[3]}" bs=1k count=128 conv=notrunc status=none
before=$(shelves_sum)
plugin_fails "a blank shelf beside an unnamed array's" \
  "e3.1 carries no aoeraid superblock but e1.1 belongs to an unnamed array \([0-9a-f-]{36}\): remove e3.1" \
  shelves=e1.1,e3.1
plugin_fails "a wrong name= before a blank shelf" \
  "name=x given, but e1.1 holds an unnamed array \([0-9a-f-]{36}\)" shelves=e1.1,e3.1 name=x
plugin_fails "level= on an unnamed array" \
  "level=0 given, but the unnamed array \([0-9a-f-]{36}\) on e1.1 is raid1" shelves=e1.1,e2.1 level=0
[ "$(shelves_sum)" = "$before" ] || lab_die "refusing an unnamed array's start wrote to a shelf"
echo "plugin-errors: passed"
