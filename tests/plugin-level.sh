#!/usr/bin/env bash
# One RAID level through real clients: nbdsh at unaligned offsets against a model,
# nbdcopy of 256 MiB random data in and out, fio's nbd engine randrw with crc32c verify.
#   plugin-level.sh LEVEL SHELVES
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
level=$1 n=$2
lab_init 300
. "$top_srcdir/tests/plugin-lib.sh"
command -v fio >/dev/null || lab_die "fio not found: run scripts/install-deps"

lab_up -n "$n" -s 320M -m 9000
shelves=$(seq -s, -f 'e%g.1' 1 "$n")
sock=$LAB_DIR/nbd.sock
uri="nbd+unix:///?socket=$sock"
plugin_start "$sock" shelves="$shelves" level="$level" chunk=64K name="level$level"
echo "ok: level=$level on $shelves: $(nbdinfo --size "$uri") bytes"

MODEL_SEED=$RANDOM nbdsh -u "$uri" -c "$(cat "$top_srcdir/tests/nbd-model.py")"

head -c 256M /dev/urandom >"$LAB_DIR/in.bin"
nbdcopy --flush "$LAB_DIR/in.bin" "$uri"
want=$(md5sum <"$LAB_DIR/in.bin")
# head stops reading after 256 MiB: nbdcopy's SIGPIPE is expected, not a failure.
got=$(set +o pipefail; nbdcopy "$uri" - 2>/dev/null | head -c 256M | md5sum)
[ "$got" = "$want" ] || lab_die "nbdcopy: 256 MiB read back differ from what was written"
echo "ok: nbdcopy 256 MiB in and out, md5 equal"
rm -f "$LAB_DIR/in.bin"

fio_verify "$uri" verify --bsrange=4k-64k --size=24M --offset_increment=32M --numjobs=3 \
  --iodepth=32
echo "ok: fio randrw, 3 jobs x iodepth 32, crc32c verified"
plugin_stop
echo "plugin-level $level: passed"
