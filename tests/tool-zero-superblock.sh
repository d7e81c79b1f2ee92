#!/usr/bin/env bash
# aoeraid zero-superblock (md's --zero-superblock) on real shelves.  RAID5 'vol' on
# e1.1..e3.1, RAID1 'old' on e4.1 and e5.1, a damaged superblock on e6.1.
#  - usage errors (a bad address, no -i, an unknown interface, a shelf that does not
#    answer) are one line each, and write nothing;
#  - a member of an array not known gone is refused without --force, naming the array,
#    its uuid and the slot: nothing written, examine still shows it; one shelf refused and
#    none of the others named is written either;
#  - a damaged superblock is wiped without --force; a blank shelf is nothing to do (0);
#  - a shelf reserved by the nbdkit aoeraid of this host, or of another head, is refused
#    even with --force, naming the holder's MAC;
#  - add refuses e4.1 (another array's) naming zero-superblock; wiped with --force (only
#    4 KiB..64 KiB written: its data area and first 4 KiB unchanged), add takes it and it
#    rebuilds vol's missing slot 2;
#  - then e3.1, which held slot 2 before, is a former member: wiped without --force;
#  - a bitmap left without its superblock (e5.1) is said by examine and by a create's
#    refusal, and wiped without --force.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 6 -s 32M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
lab_host2
mac1=$(lab_host_mac h0)
mac2=$(lab_host_mac h0 "$LAB_NS2")
zero() { lab_exec "$aoeraid" zero-superblock -w 500 "$@"; }
# what examine prints of the shelves named: it exits 1 for one with no superblock (blank,
# damaged), as mdadm --examine does, and pipefail would take that for the grep's failure
examine() { lab_exec "$aoeraid" examine -i h0 -w 500 "$@" || true; }
# One region of shelf I's backing file: BYTES at OFFSET, as an md5.
region() { dd if="${LAB_IMG[$1]}" bs=4096 iflag=skip_bytes,count_bytes skip="$2" count="$3" \
             status=none | md5sum; }
zeros() { head -c "$1" /dev/zero | md5sum; }
# Run zero-superblock ARGS, which must fail with exit RC and one line matching REGEX.
refused() {
  local rc=$1 regex=$2 got
  shift 2
  set +e
  out=$(zero "$@" 2>&1); got=$?
  set -e
  [ "$got" = "$rc" ] || lab_die "zero-superblock $*: exit $got, not $rc: $out"
  grep -Eq "$regex" <<<"$out" || lab_die "zero-superblock $*: no line matching '$regex': $out"
}
# The same, and nothing written to any shelf.
refused_nothing_written() {
  local before
  before=$(shelves_sum)
  refused "$@"
  shift 2
  [ "$(shelves_sum)" = "$before" ] || lab_die "a refused zero-superblock $* wrote to a shelf"
}
rebuild_data 4M 1M

plugin_start "$sock" shelves=e4.1,e5.1 level=1 name=old
plugin_stop
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 name=vol chunk=64K control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
plugin_stop
# e6.1: e5.1's superblock with one byte changed: the aoeraid magic, a bad checksum.
dd if="${LAB_IMG[5]}" of="${LAB_IMG[6]}" bs=4096 skip=1 seek=1 count=1 conv=notrunc status=none
printf 'X' | dd of="${LAB_IMG[6]}" bs=1 seek=$((4096 + 40)) conv=notrunc status=none
examine e6.1 | grep >/dev/null "damaged aoeraid superblock" || lab_die "e6.1 not damaged: $(examine e6.1)"
vol_uuid=$(examine e1.1 | sed -n 's/^ *uuid : //p')
old_uuid=$(examine e4.1 | sed -n 's/^ *uuid : //p')
echo "ok: vol ($vol_uuid) on e1.1..e3.1, old ($old_uuid) on e4.1 e5.1, e6.1 damaged"

# ---- usage errors: one line each, nothing written ----
refused_nothing_written 2 "^aoeraid: zero-superblock: 'e1' is not a shelf address: give SHELF.SLOT" -i h0 e1
[ "$(wc -l <<<"$out")" = 1 ] || lab_die "a bad address: not one line: $out"
refused_nothing_written 2 "zero-superblock needs -i IFACE and the shelves" e1.1
refused_nothing_written 1 "^aoeraid: interface nosuch0: .*check the name with 'ip link'" -i nosuch0 e1.1
[ "$(wc -l <<<"$out")" = 1 ] || lab_die "an unknown interface: not one line: $out"
refused_nothing_written 1 "e9.1 did not answer on h0" -i h0 e9.1
refused_nothing_written 1 "nothing written" -i h0 --force e9.1 e6.1
echo "ok: a bad address (2), no -i (2), an unknown interface (1), e9.1 not answering (1): one line, nothing written"

# ---- a current member: refused without --force ----
refused_nothing_written 1 "e1.1 is slot 0 of array 'vol' \($vol_uuid\), events [0-9]+: .*pass --force" -i h0 e1.1
[ "$(grep -c . <<<"$out")" = 2 ] || lab_die "refusing e1.1: not two lines: $out"
echo "ok: $out" | head -n 1
examine e1.1 | grep >/dev/null "array : vol" || lab_die "e1.1 lost its superblock: $(examine e1.1)"
refused_nothing_written 1 "e1.1 is slot 0 of array 'vol'" -i h0 e6.1 e1.1
echo "ok: e1.1 (slot 0 of vol) refused without --force, examine still shows it; e6.1 named beside it not written"

# ---- a damaged superblock: wiped; a blank shelf: nothing to do ----
out=$(zero -i h0 e6.1 2>&1) || lab_die "wiping e6.1's damaged superblock failed: $out"
grep -q "^e6.1: wiped a damaged aoeraid superblock (bad crc32c)" <<<"$out" || lab_die "e6.1: $out"
examine e6.1 | grep >/dev/null "no aoeraid superblock: blank" || lab_die "e6.1 not blank: $(examine e6.1)"
echo "ok: $out"
before=$(shelves_sum)
out=$(zero -i h0 --force e6.1 2>&1) || lab_die "a blank shelf: $out"
grep -q "^e6.1: no aoeraid superblock: nothing to do" <<<"$out" || lab_die "blank e6.1: $out"
[ "$(shelves_sum)" = "$before" ] || lab_die "zero-superblock of a blank shelf wrote"
echo "ok: $out (exit 0, nothing written, --force or not)"

# ---- reserved by this host's nbdkit aoeraid: refused, --force or not ----
# run=true: vol starts without its live e3.1, which e4.1 replaces below
plugin_start "$sock" shelves=e1.1,e2.1 control="$ctl" run=true
refused 1 "e1.1 is in use: reserved by $mac1 \(this host: an nbdkit aoeraid here\): stop .* or 'aoeraid remove'" -i h0 --force e1.1
echo "ok: $(head -n 1 <<<"$out")"

# ---- add refuses another array's shelf and names the command; wiped, add takes it ----
if out=$("$aoeraid" add -c "$ctl" e4.1 2>&1); then lab_die "add of old's e4.1 accepted: $out"; fi
grep -q "e4.1 holds the superblock of another array, 'old' ($old_uuid, slot 0): if that array is gone, wipe it with 'aoeraid zero-superblock -i IFACE e4.1'" <<<"$out" ||
  lab_die "add e4.1: unclear refusal: $out"
echo "ok: add: $out"
refused 1 "e4.1 is slot 0 of array 'old' \($old_uuid\).*pass --force" -i h0 e4.1
head4=$(region 4 0 4096) data4=$(region 4 65536 $((32 * 1048576 - 65536)))
out=$(zero -i h0 --force e4.1 2>&1) || lab_die "zero-superblock --force e4.1 failed: $out"
grep -q "^e4.1: wiped slot 0 of array 'old' ($old_uuid), events [0-9]* (--force): no aoeraid superblock or bitmap is left" <<<"$out" ||
  lab_die "e4.1: $out"
echo "ok: $out"
[ "$(region 4 4096 61440)" = "$(zeros 61440)" ] || lab_die "e4.1: 4 KiB..64 KiB not all zeros"
[ "$(region 4 0 4096)" = "$head4" ] || lab_die "e4.1: its first 4 KiB were written"
[ "$(region 4 65536 $((32 * 1048576 - 65536)))" = "$data4" ] || lab_die "e4.1: its data area was written"
echo "ok: e4.1: 4 KiB..64 KiB zeros, its first 4 KiB and its data area untouched"
out=$("$aoeraid" add -c "$ctl" e4.1) || lab_die "add of the wiped e4.1 refused: $out"
wait_recovered 2 e4.1
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "vol's data differs after e4.1's recovery"
echo "ok: add took the wiped e4.1; it rebuilt slot 2; data verifies"
plugin_stop

# ---- e3.1 held slot 2 before: a former member, wiped without --force ----
out=$(zero -i h0 e3.1 2>&1) || lab_die "the former member e3.1 was refused: $out"
grep -q "^e3.1: wiped a former member (slot 2) of array 'vol' ($vol_uuid), whose slot another holds since" <<<"$out" ||
  lab_die "e3.1: $out"
examine e3.1 | grep >/dev/null "no aoeraid superblock: blank" || lab_die "e3.1 not blank: $(examine e3.1)"
echo "ok: $out"

# ---- a stale bitmap without its superblock (an older aoeraid's remove wiped only that) ----
dd if=/dev/zero of="${LAB_IMG[5]}" bs=4096 seek=1 count=1 conv=notrunc status=none
examine e5.1 | grep >/dev/null "no aoeraid superblock, but a stale aoeraid write-intent bitmap" ||
  lab_die "e5.1's stale bitmap not said: $(examine e5.1)"
plugin_fails "create on a stale bitmap" \
  "e5.1 holds an aoeraid write-intent bitmap without its superblock.*'aoeraid zero-superblock -i IFACE e5.1'" \
  shelves=e5.1,e6.1 level=1
out=$(zero -i h0 e5.1 2>&1) || lab_die "wiping e5.1's stale bitmap failed: $out"
grep -q "^e5.1: wiped a stale aoeraid write-intent bitmap (no superblock)" <<<"$out" || lab_die "e5.1: $out"
examine e5.1 | grep >/dev/null "no aoeraid superblock: blank" || lab_die "e5.1 not blank: $(examine e5.1)"
echo "ok: $out"

# ---- reserved by another head: refused, --force or not ----
PLUGIN_NS=$LAB_NS2 plugin_start "$sock" shelves=e1.1,e2.1,e4.1
refused 1 "e2.1 is in use: reserved by $mac2 \(another head\): stop the nbdkit aoeraid that holds it, or 'aoeraid remove' the shelf from its array first" -i h0 --force e2.1
echo "ok: $(head -n 1 <<<"$out")"
plugin_stop
examine e2.1 | grep >/dev/null "array : vol" || lab_die "e2.1 lost its superblock: $(examine e2.1)"
echo "ok: e2.1 still vol's"
echo "tool-zero-superblock: passed"
