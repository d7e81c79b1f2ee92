#!/usr/bin/env bash
# aoeraid examine applies assembly's slot rules (raid/array.c, choose_members):
# - a former member whose slot a spare took since (RAID1 of e1.1,e2.1, spare e3.1; e2.1
#   dies under writes, e3.1 rebuilds slot 1; e2.1's vblade comes back while the array is
#   stopped) is stale and out of the start command; started with the old command line the
#   array assembles without it and leaves it alone (md: kicked as non-fresh, not made a
#   spare) until the admin adds it, as a spare;
# - a spare one event behind that a grow made a member (RAID5 of e4.1..e6.1 grown onto the
#   spare e7.1, whose last superblock update was cut short) is put in its slot, as
#   assembly does, not listed as a spare;
# - a shelf as fresh as the array in a slot recorded for another uuid (a copy) is refused
#   by assembly: examine says so and leaves it out.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 7 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 8M 2M
examine() { lab_exec "$aoeraid" examine -i h0 "$@" >"$LAB_DIR/ex.txt" ||
  lab_die "examine failed: $(cat "$LAB_DIR/ex.txt")"; sed -n '/^ARRAY/,$p' "$LAB_DIR/ex.txt"; }
log=$LAB_DIR/nbdkit.log

# ---- a former member whose slot a spare took -----------------------------------------
plugin_start "$sock" shelves=e1.1,e2.1 spares=e3.1 level=1 chunk=64K control=$ctl dead-time=2
nbdcopy --flush "$LAB_DIR/data" "$uri"
lab_kill 2
nbdcopy --flush "$LAB_DIR/more" "$uri" || lab_die "writing with e2.1 gone failed"
wait_recovered 1 e3.1
[ "$(readback)" = "$want" ] || lab_die "after the recovery onto e3.1: data differs"
plugin_stop
lab_start 2
echo "ok: e2.1 died under writes, the spare e3.1 rebuilt slot 1; e2.1 is up again"

examine e1.1 e2.1 e3.1
grep -Eq "^  slot 1 +e2.1 +events [0-9]+ +stale: it left this slot, which another member holds since" \
  "$LAB_DIR/ex.txt" || lab_die "e2.1 not said stale, displaced from slot 1"
grep -Eq "^  slot 1 +e3.1 +events [0-9]+ +active$" "$LAB_DIR/ex.txt" || lab_die "e3.1 not active in slot 1"
grep -q "^  spare" "$LAB_DIR/ex.txt" && lab_die "a spare listed"
grep -q "^  start: nbdkit aoeraid shelves=e1.1,e3.1$" "$LAB_DIR/ex.txt" ||
  lab_die "the start command is not shelves=e1.1,e3.1"
echo "ok: examine: e2.1 stale (its slot taken), start with shelves=e1.1,e3.1"

# The old command line still starts the array: e2.1 is left out with a line saying why.
plugin_start "$sock" shelves=e1.1,e2.1 spares=e3.1 control=$ctl dead-time=2
grep -q "member e2.1 left slot 1, which another member holds since" "$log" ||
  lab_die "no line says e2.1 was left out: $(grep e2.1 "$log")"
out=$(status)
grep -Eq "^ +1 +e3.1 +active" <<<"$out" || lab_die "e3.1 not in slot 1: $out"
grep -q "spares none" <<<"$out" || lab_die "e2.1 (or another) made a spare: $out"
[ "$(readback)" = "$want" ] || lab_die "assembled from the old command line: data differs"
sleep 1.5       # a few monitor rounds: auto-readd must not take it (it never left this run)
grep -q "e2\.1 is back" "$log" && lab_die "auto-readd took e2.1: $(grep e2.1 "$log")"
status | grep >/dev/null "spares none" || lab_die "e2.1 taken after all: $(status)"
echo "ok: old command line: assembled without e2.1, which is left alone"
out=$("$aoeraid" add -c "$ctl" e2.1) || lab_die "add e2.1 failed: $out"
status | grep >/dev/null "spares e2.1" || lab_die "e2.1 not a spare once added: $(status)"
plugin_stop
examine e1.1 e2.1 e3.1
grep -q "^  start: nbdkit aoeraid shelves=e1.1,e3.1 spares=e2.1$" "$LAB_DIR/ex.txt" ||
  lab_die "once added, e2.1 is not in spares="
echo "ok: added by the admin, e2.1 is a spare ($out)"

# ---- a spare one event behind that a grow made a member ------------------------------
# sb_patch BLOCK FIELD VALUE: the superblock BLOCK (4 KiB) with events (a number) or
# member_uuid (uuid: 32 hex digits) set, its crc32c made right again (raid/superblock.c).
sb_patch() {
  python3 - "$@" <<'EOF'
import struct, sys
table = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    table.append(c)
def crc32c_noxor(data):          # ISA-L crc32_iscsi with seed ~0, as raid/superblock.c
    c = 0xffffffff
    for x in data:
        c = (c >> 8) ^ table[(c ^ x) & 0xff]
    return c
b = bytearray(open(sys.argv[1], 'rb').read())
assert struct.unpack_from('<I', b, 4092)[0] == crc32c_noxor(b[:4092]), "crc helper is wrong"
if sys.argv[2] == 'events':
    struct.pack_into('<Q', b, 152, int(sys.argv[3]))
else:
    b[112:128] = bytes.fromhex(sys.argv[3])
struct.pack_into('<I', b, 4092, crc32c_noxor(b[:4092]))
sys.stdout.buffer.write(b)
EOF
}
sbblock() { dd if="${LAB_IMG[$1]}" bs=4096 skip=1 count=1 status=none; }
plugin_start "$sock" shelves=e4.1,e5.1,e6.1 spares=e7.1 level=5 chunk=64K control=$ctl
nbdcopy --flush "$LAB_DIR/want" "$uri"
for _ in $(seq 300); do status | grep >/dev/null resync || break; sleep 0.1; done
sbblock 7 >"$LAB_DIR/e7-spare.sb"           # e7.1's superblock as the spare it is
out=$("$aoeraid" grow -c "$ctl" e7.1) || lab_die "grow onto e7.1 failed: $out"
for _ in $(seq 600); do status | grep >/dev/null -E "reshape|resync" || break; sleep 0.1; done
status | grep >/dev/null -E "reshape|resync" && lab_die "the grow did not finish: $(status)"
plugin_stop
# A power cut as the grow's superblock update reached all but e7.1 would leave it one
# event behind with its spare's superblock: write that over its own.
events=$(sbblock 4 | od -An -tu8 -j152 -N8 | tr -d ' ')
sb_patch "$LAB_DIR/e7-spare.sb" events $((events - 1)) >"$LAB_DIR/e7-cut.sb"
dd if="$LAB_DIR/e7-cut.sb" of="${LAB_IMG[7]}" bs=4096 seek=1 conv=notrunc status=none
echo "ok: raid5 of e4.1..e6.1 grown onto e7.1; e7.1's superblock now its spare's, events $((events - 1)) of $events"

examine e4.1 e5.1 e6.1 e7.1
grep -Eq "^  slot 3 +e7.1 +events $((events - 1)) +active: its superblock says spare, one event behind" \
  "$LAB_DIR/ex.txt" || lab_die "e7.1 not put in slot 3"
grep -q "^  spare" "$LAB_DIR/ex.txt" && lab_die "e7.1 still listed as a spare"
grep -q "^  start: nbdkit aoeraid shelves=e4.1,e5.1,e6.1,e7.1$" "$LAB_DIR/ex.txt" ||
  lab_die "the start command does not hold e7.1 in shelves="
lab_exec "$aoeraid" examine -i h0 --json e4.1 e5.1 e6.1 e7.1 >"$LAB_DIR/ex.json" ||
  lab_die "examine --json failed"
[ "$(jq -r '.arrays[0] | "\(.slots[3].shelf) \(.slots[3].stale) \(.spares | length)"' \
  "$LAB_DIR/ex.json")" = "e7.1 false 0" ] || lab_die "json: e7.1 not in slot 3: $(cat "$LAB_DIR/ex.json")"
echo "ok: examine puts e7.1 in slot 3, as assembly does (text and json)"
plugin_start "$sock" $(sed -n 's/^  start: nbdkit aoeraid //p' "$LAB_DIR/ex.txt") control=$ctl
out=$(status)
grep -Eq "^ +3 +e7.1 +active" <<<"$out" || lab_die "assembly did not put e7.1 in slot 3: $out"
grep -q "state clean" <<<"$out" || lab_die "not clean: $out"
[ "$(readback)" = "$want" ] || lab_die "raid5 of 4 from examine's command: data differs"
plugin_stop
echo "ok: started with examine's command, e7.1 serves slot 3, every byte right"

# ---- a shelf as fresh as the array, but not the member it records in the slot ----------
# (a copy of a shelf): assembly refuses it, so examine leaves it out of the command.
sbblock 6 >"$LAB_DIR/e6.sb"
sb_patch "$LAB_DIR/e6.sb" uuid 0123456789abcdef0123456789abcdef >"$LAB_DIR/e6-other.sb"
dd if="$LAB_DIR/e6-other.sb" of="${LAB_IMG[6]}" bs=4096 seek=1 conv=notrunc status=none
examine e4.1 e5.1 e6.1 e7.1
grep -Eq "^  slot 2 +e6.1 +events [0-9]+ +refused: as fresh as the array .* not the member it records" \
  "$LAB_DIR/ex.txt" || lab_die "e6.1 not said refused"
grep -q "^  start: nbdkit aoeraid shelves=e4.1,e5.1,e7.1$" "$LAB_DIR/ex.txt" ||
  lab_die "the start command does not leave e6.1 out"
plugin_fails "e6.1 listed" "member e6.1 is not the member the array recorded in its slot" \
  shelves=e4.1,e5.1,e6.1,e7.1
plugin_start "$sock" $(sed -n 's/^  start: nbdkit aoeraid //p' "$LAB_DIR/ex.txt") control=$ctl
[ "$(readback)" = "$want" ] || lab_die "raid5 of 4 without e6.1: data differs"
plugin_stop
echo "ok: examine calls e6.1 refused and starts the array without it, degraded"
echo "tool-examine-slots: passed"
