#!/usr/bin/env bash
# A link on the way with a smaller MTU than both ends (initiator and shelf at 9000, the
# shelf's bridge port at 1500) drops every frame bigger than 1500 bytes, while Query
# Config and IDENTIFY (small frames) get through.  The initiator uses 2 sectors per frame
# until a read of the full size went through both ways (its request padded to that size),
# so all data verifies, one line names the smaller MTU, and with the link mended a new
# start uses 17 sectors per frame again.  The up line says its 2 sectors per frame last
# until the probe passes, and a line says when the frames grow (not a misset MTU).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120

lab_up -n 1 -s 16M -m 9000
ip -n "$LAB_PREFIX-san" link set s1-0 mtu 1500
head -c $((700 * 512)) /dev/urandom >"$LAB_DIR/w"
out=$(lab_exec aoe-client -i h0 -w 3000 -d 3000 1.1 load 5000 "$LAB_DIR/w" \
        dump 5000 700 "$LAB_DIR/d" flush idle 3000 info stats 2>&1) ||
  lab_die "I/O failed through a 1500 link between 9000 ends: $out"
echo "$out"
cmp -s "$LAB_DIR/w" "$LAB_DIR/d" || lab_die "data read back differs"
dd if="${LAB_IMG[1]}" bs=512 skip=5000 count=700 status=none | cmp -s - "$LAB_DIR/w" ||
  lab_die "the disk does not hold what was written"
grep -q "frames of 17 sectors (8726 bytes) go unanswered while small ones are answered: a link on the way has a smaller MTU than h0 (9000); using 2 sectors per frame" <<<"$out" ||
  lab_die "no line named the smaller MTU on the way"
grep -q "scnt=2 " <<<"$out" || lab_die "frames bigger than the link carries still in use"
grep -q "down=0" <<<"$out" || lab_die "the shelf was declared down"
# the up line says its 2 sectors are for now (read alone, they look like an MTU set
# wrong), and no line says they grew
grep -q "e1\.1: up: .*, 2 sectors per frame until a frame of 17 is answered (the MTU probe)" \
  <<<"$out" || lab_die "the up line does not say its 2 sectors per frame wait for the probe"
! grep -q "e1\.1: 17 sectors per frame" <<<"$out" || lab_die "17 sectors per frame said through a 1500 link"
echo "ok: a 1500 link between 9000 ends: data verified at 2 sectors per frame, one line says why"

ip -n "$LAB_PREFIX-san" link set s1-0 mtu 9000
out=$(lab_exec aoe-client -i h0 -w 3000 -d 3000 1.1 write 0 340 3 read 0 340 3 info 2>&1) ||
  lab_die "I/O failed at MTU 9000 end to end: $out"
grep -q "scnt=17 " <<<"$out" || lab_die "MTU 9000 end to end, yet not 17 sectors per frame: $out"
grep -q "e1\.1: 17 sectors per frame: a frame of 17 sectors was answered via h0 (MTU 9000)" \
  <<<"$out" || lab_die "no line says the frames grew to 17 sectors: $out"
! grep -q "smaller MTU" <<<"$out" || lab_die "a smaller MTU reported where there is none: $out"
echo "ok: MTU 9000 end to end: 17 sectors per frame once the probe answered"
echo "aoe-mtu: passed"
