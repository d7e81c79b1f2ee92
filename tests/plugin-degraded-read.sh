#!/usr/bin/env bash
# Degraded reads through the stripe cache: a RAID5 of 4 vblade shelves with one down
# serves sequential reads that cut its stripes (nbdcopy), writes into stripes whose rest a
# read just left in the cache, and a fio randrw verify, all read back right.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"
command -v fio >/dev/null || lab_die "fio not found: run scripts/install-deps"

lab_up -n 4 -s 100M -m 9000
sock=$LAB_DIR/nbd.sock
uri="nbd+unix:///?socket=$sock"
params=(shelves=e1.1,e2.1,e3.1,e4.1 level=5 chunk=64K name=deg control="$LAB_DIR/ctl")

plugin_start "$sock" "${params[@]}"
for _ in $(seq 600); do                 # a restart dirty and degraded would be refused
  st=$(aoeraid status -c "$LAB_DIR/ctl")
  grep -q '^  resync ' <<<"$st" || break
  sleep 0.2
done
grep -q '^  resync ' <<<"$st" && lab_die "the initial resync did not finish in 120 s"
head -c 64M /dev/urandom >"$LAB_DIR/model.bin"
nbdcopy --flush "$LAB_DIR/model.bin" "$uri"
plugin_stop

lab_kill 4                              # slot 3: a data column in 3 stripes of 4
plugin_start "$sock" "${params[@]}" auto-readd=false
grep -q degraded <<<"$(aoeraid status -c "$LAB_DIR/ctl")" || lab_die "the array is not degraded"

# nbdcopy reads 256 KiB requests: each cuts a 192 KiB stripe, whose rest the next takes.
got=$(set +o pipefail; nbdcopy "$uri" - 2>/dev/null | head -c 64M | md5sum)
[ "$got" = "$(md5sum <"$LAB_DIR/model.bin")" ] || lab_die "degraded nbdcopy read differs"
echo "ok: 64 MiB read degraded in 256 KiB requests, md5 equal"

# Per stripe: read its head (it is rebuilt whole, its last chunk kept), write into that
# last chunk, read it back with the next stripe: the write, never the kept bytes.
nbdsh -u "$uri" -c "
import os
chunk, stripe = 64 * 1024, 3 * 64 * 1024
model = open('$LAB_DIR/model.bin', 'r+b')
for s in range(40, 48):
    base = s * stripe
    h.pread(2 * chunk, base)
    for at, n in ((base + 2 * chunk, chunk), (base + 2 * chunk + 4096, 512)):
        data = os.urandom(n)
        h.pwrite(data, at)
        model.seek(at)
        model.write(data)
        model.flush()
        got = h.pread(chunk + stripe, base + 2 * chunk)
        model.seek(base + 2 * chunk)
        assert got == model.read(chunk + stripe), 'stripe %d: stale bytes after a write at %d' % (s, at)
        h.pread(2 * chunk, base)
"
echo "ok: writes into the rest of a stripe a read kept are read back"

fio_verify "$uri" verify --bsrange=64k-256k --size=16M --offset_increment=16M --numjobs=3 \
  --iodepth=8
echo "ok: fio randrw degraded, 64-256 KiB, crc32c verified"
plugin_stop
echo "plugin-degraded-read: passed"
