#!/usr/bin/env bash
# Access: a read-only shelf (vblade -r) fails writes with a clear error; a shelf whose -m
# list excludes us is not discovered; an impostor claiming a shelf.slot with another size
# is not accepted as a path; Reserve/Release claims a shelf against another initiator.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120

LAB_FLAGS[1]="-r"
LAB_FLAGS[2]="-m 02:00:00:00:00:01"
lab_up -n 4 -s 16M -m 9000

out=$(lab_exec aoeraid discover -i h0)
echo "$out"
echo "$out" | grep >/dev/null '^e1\.1 ' || lab_die "read-only e1.1 not discovered"
echo "$out" | grep >/dev/null '^e3\.1 ' || lab_die "e3.1 not discovered"
echo "$out" | grep >/dev/null '^e4\.1 ' || lab_die "e4.1 not discovered"
echo "$out" | grep >/dev/null '^e2\.1 ' && lab_die "e2.1 excludes us with -m, yet was discovered"
echo "ok: a shelf whose -m list excludes us is not discovered"

head -c $((40 * 512)) /dev/urandom >"$LAB_DIR/img"
dd if="$LAB_DIR/img" of="${LAB_IMG[1]}" conv=notrunc status=none
out=$(lab_exec aoe-client -i h0 -w 3000 1.1 expect write 8 20 EIO dump 0 40 "$LAB_DIR/d")
echo "$out"
echo "$out" | grep >/dev/null "write refused; is the shelf read-only" || lab_die "unclear read-only error"
cmp -s "$LAB_DIR/img" "$LAB_DIR/d" || lab_die "read-only shelf: reads wrong or write landed"
echo "ok: read-only shelf: writes fail with EIO and a clear message, reads work"

# Impostor: discovered first the real shelf, then a second vblade claims e3.1 with another
# size; re-discovery sees it, IDENTIFY shows the size differs, and it is not a path.  (The
# client has used the shelf first: an identity in use is trusted over a newcomer.)
head -c $((64 * 512)) /dev/urandom >"$LAB_DIR/w3"
lab_bg c3 aoe-client -i h0 -w 3000 3.1 write 0 8 1 mark "$LAB_DIR/r3" await "$LAB_DIR/go3" \
  load 100 "$LAB_DIR/w3" dump 100 64 "$LAB_DIR/d3" info stats >"$LAB_DIR/c3.out" 2>&1
for _ in $(seq 600); do [ -e "$LAB_DIR/r3" ] && break; sleep 0.05; done
lab_impostor 3 8M
# The client re-discovers every 2 s: wait (bounded) for it to have met and judged the
# impostor, rather than sleep 2.5 s and hope a loaded machine let it do so in time.
for _ in $(seq 600); do grep -q "not accepted as a path" "$LAB_DIR/c3.out" && break; sleep 0.05; done
touch "$LAB_DIR/go3"
wait "$c3" || lab_die "impostor: client failed: $(cat "$LAB_DIR/c3.out")"
cat "$LAB_DIR/c3.out"
grep -q "not accepted as a path" "$LAB_DIR/c3.out" || lab_die "impostor was not seen and rejected"
grep -q "paths=1 up=1" "$LAB_DIR/c3.out" || lab_die "impostor counted as a path"
cmp -s "$LAB_DIR/w3" "$LAB_DIR/d3" || lab_die "impostor: data does not verify"
dd if="${LAB_IMG[3]}" bs=512 skip=100 count=64 status=none | cmp -s - "$LAB_DIR/w3" ||
  lab_die "impostor: the write did not land on the real shelf"
echo "ok: impostor claiming e3.1 with another size is rejected as a path"
# A fresh initiator sees both at once: nothing says which is real, so it uses neither.
set +e
out=$(lab_exec aoe-client -i h0 -w 3000 3.1 expect read 0 8 EIO 2>&1); rc=$?
set -e
echo "$out" | grep >/dev/null "expected failure: read: e3.1: two shelves answer as e3.1 with different disks" ||
  lab_die "fresh discovery with an impostor present: rc=$rc $out"
echo "ok: two different disks claiming e3.1 at discovery: neither is used, clear error"

# Reserve/Release against a second initiator with its own MAC.
lab_host2
mac1=$(lab_host_mac h0)
mac2=$(ip -n "$LAB_NS2" -o link show h0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
out=$(lab_exec aoe-client -i h0 -w 3000 4.1 reserve holders write 0 8 1)
echo "$out" | grep >/dev/null "holders: $mac1" || lab_die "reserve: holder is not us: $out"
set +e
out2=$(ip netns exec "$LAB_NS2" aoe-client -i h0 -w 3000 4.1 reserve 2>&1); rc=$?
set -e
[ $rc = 1 ] && echo "$out2" | grep >/dev/null "reserve-failed: e4.1 is reserved by $mac1" ||
  lab_die "second initiator: reserve did not fail naming the holder: $out2"
echo "ok: a second initiator's reserve fails naming the holder: $(echo "$out2" | grep reserve-failed)"
ip netns exec "$LAB_NS2" aoe-client -i h0 -w 3000 4.1 expect write 0 8 EBADE expect read 0 8 EBADE >/dev/null ||
  lab_die "second initiator could use a shelf reserved by another"
out2=$(ip netns exec "$LAB_NS2" aoe-client -i h0 -w 3000 4.1 reserve force holders write 0 8 2)
echo "$out2" | grep >/dev/null "holders: $mac2" || lab_die "force reserve did not take it: $out2"
lab_exec aoe-client -i h0 -w 3000 4.1 expect write 0 8 EBADE >/dev/null
ip netns exec "$LAB_NS2" aoe-client -i h0 -w 3000 4.1 release holders | grep >/dev/null "^holders:$" ||
  lab_die "release left holders"
lab_exec aoe-client -i h0 -w 3000 4.1 write 0 8 3 read 0 8 3 >/dev/null
echo "ok: reserve, force reserve and release"
echo "aoe-access: passed"
