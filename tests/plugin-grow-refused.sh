#!/usr/bin/env bash
# A grow onto shelves refused for a shelf named twice or a member named changes nothing
# (md's --grow refuses a device list that is not new devices before it adds any): one
# line, a non-zero exit, no spare left behind, no superblock written on the new shelf.
# It added the first shelf as a spare, then refused on finding it (or a member) in the
# array.  Then a RAID1 of 2 grown to a RAID0 of 3: a level without redundancy keeps no
# write-intent bitmap (status showed every region dirty until a restart, and a RAID0
# refuses bitmap=none); the data reads back, also after a restart by name.  Last an ec
# 2+1 grown onto a fourth shelf with level=2+2: a grow keeps M, so that geometry cannot be
# reached and is refused, nothing added (it made a 3+1 without a word); level=3+1 grows.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 1M
want=$(md5sum <"$LAB_DIR/data")
plugin_start "$sock" shelves=e1.1,e2.1 level=1 chunk=64K name=gr control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the new mirror's first resync"

before=$(shelves_sum 3)
grow_refused "grow onto e3.1 twice" "^error: grow: e3\.1 is named twice: name each new shelf once; nothing was added$" e3.1 e3.1
grow_refused "grow onto e3.1 and member e1.1" "^error: grow: e1\.1 is a member of the array already: .*; nothing was added$" level=5 e3.1 e1.1
grow_refused "grow onto member e2.1" "^error: grow: e2\.1 is a member of the array already" e2.1
# a key given twice took the last without a word (bitmap=64M bitmap=none removed it)
grow_refused "grow level= twice" "^error: grow: level= given twice: give it once$" level=5 level=6 e3.1
grow_refused "grow bitmap= twice" "^error: grow: bitmap= given twice: give it once$" bitmap=64M bitmap=none
status | grep -q "^  bitmap [0-9]* of [0-9]* regions" || lab_die "a refused grow changed the bitmap: $(status)"
status | grep -q "^  spares none$" || lab_die "a refused grow left a spare: $(status)"
[ "$(shelves_sum 3)" = "$before" ] || lab_die "a refused grow wrote on e3.1"
echo "ok: refused grows added nothing, wrote nothing on e3.1"

ctl_ok grow level=0 e3.1
timeout 60 "$aoeraid" wait -c "$ctl" || lab_die "the reshape did not end: $(status)"
out=$(status)
grep -q "^  level raid0 .* members 3 " <<<"$out" || lab_die "not a raid0 of 3: $out"
grep -q "^  bitmap none$" <<<"$out" || lab_die "the raid0 kept a write-intent bitmap: $out"
[ "$(readback)" = "$want" ] || lab_die "raid0 of 3: data differs"
echo "ok: raid0 of 3 without a bitmap, every byte right"
plugin_stop
plugin_start "$sock" name=gr control="$ctl"
status | grep -q "^  bitmap none$" || lab_die "restarted, the raid0 has a bitmap: $(status)"
[ "$(readback)" = "$want" ] || lab_die "raid0 of 3 restarted: data differs"
echo "ok: restarted by name: no bitmap, every byte right"
plugin_stop

for i in 1 2 3; do dd if=/dev/zero of="${LAB_IMG[$i]}" bs=1k count=128 conv=notrunc status=none; done
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=2+1 chunk=64K control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the ec array's first resync"
before=$(shelves_sum 4)
grow_refused "grow of a 2+1 to level=2+2" "^error: grow: level=2\+2 cannot be reached: a grow keeps the 1 parity chunk of each stripe, so 2\+1 onto 1 more shelf makes 3\+1: give level=3\+1 or no level=; nothing was added$" level=2+2 e4.1
status | grep -q "^  spares none$" || lab_die "the refused ec grow left a spare: $(status)"
[ "$(shelves_sum 4)" = "$before" ] || lab_die "the refused ec grow wrote on e4.1"
ctl_ok grow level=3+1 e4.1
timeout 60 "$aoeraid" wait -c "$ctl" || lab_die "the ec reshape did not end: $(status)"
status | grep -q "^  level ec 3+1 .* members 4 " || lab_die "not an ec 3+1: $(status)"
[ "$(readback)" = "$want" ] || lab_die "ec 3+1: data differs"
echo "ok: ec 2+1 grown to 3+1 as asked, every byte right"
plugin_stop
echo "plugin-grow-refused: passed"
