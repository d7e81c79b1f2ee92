#!/usr/bin/env bash
# Reads and writes through the initiator land on the right sectors of the shelf's disk, at
# sizes and offsets that cross frame boundaries, at MTU 1500 (2 sectors per frame) and 9000
# (17): checked against the vblade's backing file itself, both ways.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150

run_mtu() {
  local mtu=$1 ranges=$2 i=0 lba n args=() img
  lab_up -n 1 -s 16M -m "$mtu"
  img=${LAB_IMG[1]}
  # Written through the library, compared with the backing file.
  for r in $ranges; do
    lba=${r%:*} n=${r#*:}
    head -c $((n * 512)) /dev/urandom >"$LAB_DIR/w$i"
    args+=(load "$lba" "$LAB_DIR/w$i")
    i=$((i + 1))
  done
  lab_exec aoe-client -i h0 -w 3000 1.1 info "${args[@]}" flush stats
  i=0
  for r in $ranges; do
    lba=${r%:*} n=${r#*:}
    dd if="$img" bs=512 skip="$lba" count="$n" status=none | cmp -s - "$LAB_DIR/w$i" ||
      lab_die "MTU $mtu: write of $n sectors at $lba is not on the disk"
    i=$((i + 1))
  done
  echo "ok: MTU $mtu: writes at $ranges are on the disk"
  # Written to the backing file, read through the library.
  i=0 args=()
  for r in $ranges; do
    lba=$(( ${r%:*} + 7 )) n=${r#*:}
    head -c $((n * 512)) /dev/urandom >"$LAB_DIR/r$i"
    dd if="$LAB_DIR/r$i" of="$img" bs=512 seek="$lba" conv=notrunc status=none
    args+=(dump "$lba" "$n" "$LAB_DIR/d$i")
    i=$((i + 1))
  done
  lab_exec aoe-client -i h0 -w 3000 1.1 "${args[@]}"
  for j in $(seq 0 $((i - 1))); do
    cmp -s "$LAB_DIR/r$j" "$LAB_DIR/d$j" || lab_die "MTU $mtu: read $j differs from the disk"
  done
  echo "ok: MTU $mtu: reads return what is on the disk"
  # Many threads submitting at once (nbdkit's PARALLEL model) each verify their data; many
  # overlapping writes in flight at once land in submission order; the last sectors of the
  # disk work and a request past the end is refused.
  lab_exec aoe-client -i h0 -w 3000 1.1 threads 8 1500 8192 random 11 200 3000 \
    write 32760 8 3 read 32760 8 3 expect read 32760 9 EINVAL
  lab_kill 1
  local ns
  for ns in "${LAB_NETNS[@]}"; do ip netns del "$ns"; done
  LAB_NETNS=()
}

run_mtu 1500 "0:1 1:2 3:3 7:5 100:17 1001:18 2047:35 5000:257 9999:1"
run_mtu 9000 "0:1 5:16 21:17 38:18 100:35 333:34 1000:300 4095:1000"
echo "aoe-io: passed"
