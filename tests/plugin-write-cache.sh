#!/usr/bin/env bash
# Shelves whose disks keep a volatile write cache: the array's own metadata is flushed
# before and after what relies on it, as md writes its metadata PREFLUSH|FUA; shelves
# without one (vblade) are sent none of those flushes.  vblade always says it has no
# cache, so the lab's relay (lab-netem wcache on) rewrites its IDENTIFY answers to say
# the cache is on.  The same writes, six 4 KiB writes into new bitmap regions of a RAID5
# with the partial parity log, each setting a bit and logging an entry:
#   on vblade as it is, discover and status say write-cache off, and no FLUSH CACHE goes;
#   through the relay they say on, and the writes send flushes (the bitmap block before
#   and after, each entry before its data); every byte reads back right.
# Then writes enough to go twice round every shelf's log ring: the shelves written are
# flushed before an entry's room is used again, but lazily, once for many writes (md's
# ppl_do_flush is off the write's path too): a write to a stripe of its own sends its
# entry's flush only.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"

json() { "$aoeraid" status -c "$ctl" --json; }
flushes() { json | jq '[.members[].shelf.flushes] | add'; }
caches() { json | jq -r '[.members[].shelf.write_cache | tostring] | join(",")'; }
discovered() { lab_exec "$aoeraid" discover -i h0 | grep -c " write-cache=$1 " || true; }
# Six 4 KiB writes, of byte I at 2 MiB x I for I from $1: each into a stripe's first
# column, and into a bitmap region of its own (1 MiB of each member's space).
small_writes() { nbdsh -u "$uri" -c "for i in range($1, $1 + 6): h.pwrite(bytes([i]) * 4096, i << 21)"; }
check_writes() {
  nbdsh -u "$uri" -c "
for i in range($1, $1 + 6):
    assert h.pread(4096, i << 21) == bytes([i]) * 4096, 'write %d reads wrong' % i
" || lab_die "$2: the writes did not read back"
}
start() {
  plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K bitmap-chunk=1M \
    consistency-policy=ppl control="$ctl"
  wait_clean "the start"
}

start
[ "$(discovered off)" = 3 ] || lab_die "vblade said it has a write cache: $(lab_exec "$aoeraid" discover -i h0)"
[ "$(caches)" = false,false,false ] || lab_die "status: write_cache $(caches), not false"
before=$(flushes)
small_writes 1
after=$(flushes)
[ "$after" = "$before" ] ||
  lab_die "shelves without a write cache were sent $((after - before)) flushes for the writes"
check_writes 1 "without a cache"
echo "ok: vblade as it is: write-cache off, the writes sent no flush ($after flushes in all)"
plugin_stop

lab_netem wcache on
start
[ "$(discovered on)" = 3 ] || lab_die "the relay's write cache not seen: $(lab_exec "$aoeraid" discover -i h0)"
[ "$(caches)" = true,true,true ] || lab_die "status: write_cache $(caches), not true"
wait_status "bitmap 0 of [0-9]+ regions dirty"      # each write sets a bit, stored anew
before=$(flushes)
small_writes 10
after=$(flushes)
# for each write at least: the bitmap block's flushes before and after on each of the 3
# shelves, and its entry's on its parity shelf
[ $((after - before)) -ge $((6 * (6 + 1))) ] ||
  lab_die "shelves with a write cache were sent only $((after - before)) flushes for 6 writes"
check_writes 10 "with a cache"
check_writes 1 "with a cache"

# 4 KiB writes, each on the next of 128 stripes (16 MiB at 20 MiB), a row further down
# each time round: each logs an entry of 8 KiB (a header and the partial parity) on its
# stripe's parity shelf.  (A write to a stripe whose last write may still be in a cache
# has a room flush before its entry: back to back in one stripe, each write would.)
ring=$(json | jq .ppl_log_bytes)
[ "$ring" -gt 0 ] || lab_die "no log ring: $(json)"
n=$((2 * 3 * ring / 8192))
[ "$n" -le 4096 ] || lab_die "$n writes would take a block twice"
echo "log ring ${ring} bytes a shelf: $n writes"
before=$(flushes)
nbdsh -u "$uri" -c "
at = lambda i: (10 << 21) + (i % 128) * 131072 + (i // 128) * 4096
for i in range($n):
    h.pwrite(bytes([i % 251]) * 4096, at(i))
for i in range($n):
    assert h.pread(4096, at(i)) == bytes([i % 251]) * 4096, 'write %d' % i
" || lab_die "writes round the log rings did not read back"
after=$(flushes)
# each its entry's flush on its parity shelf, and the bitmap's for the 8 regions; the
# room's flushes of the 3 shelves come a few times a round, not after each write (that
# would be 2 more a write)
[ $((after - before)) -ge "$n" ] ||
  lab_die "$n writes round the rings sent $((after - before)) flushes, not one an entry"
[ $((after - before)) -lt $((n + n / 4)) ] ||
  lab_die "$n writes round the rings sent $((after - before)) flushes: the room is not flushed lazily"
echo "ok: $n writes twice round the rings sent $((after - before)) flushes"
plugin_stop
lab_netem_clear
grep -q "identifies_patched=[1-9]" "$LAB_DIR/netem.stats" ||
  lab_die "the relay patched no IDENTIFY: $(cat "$LAB_DIR/netem.stats")"
echo "ok: through the relay: write-cache on, the writes sent $((after - before)) flushes"
echo "plugin-write-cache: passed"
