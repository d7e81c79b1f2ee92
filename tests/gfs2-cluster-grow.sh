#!/usr/bin/env bash
# Growing under a mounted cluster filesystem (issue 8's "moves the array to RAID5 under the
# mounted filesystem"): two qemu guests share one lock_dlm GFS2 on a RAID1 of two vblade
# shelves; while both write, `aoeraid grow level=5 e3.1` reshapes it into a RAID5 of three.
# The guests must see no I/O error and read back both nodes' data after a remount, the
# host's fsck.gfs2 -n must find the volume clean, and the next start must assemble a RAID5
# of three of twice the size.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
. "$top_srcdir/tests/vm/cluster.sh"
vm_exclusive
lab_init 600
. "$top_srcdir/tests/plugin-lib.sh"
lab_up -n 3 -s 256M

VM_NETNS=$LAB_NS
ctl=$LAB_DIR/control.sock
NBD_SERVER_CMD="nbdkit -f -i 127.0.0.1 -p \$VM_NBD_PORT $AOERAID_PLUGIN iface=h0 \
  discover-time=2 shelves=e1.1,e2.1 level=1 name=gfs2grow control=$ctl"
status() { aoeraid status -c "$ctl" 2>/dev/null; }
# Grow while the guests write, and wait (they still writing) until the reshape has begun.
midway() {
  local out
  out=$(aoeraid grow -c "$ctl" level=5 e3.1 2>&1) || { echo "grow failed: $out" >"$LAB_DIR/midway"; return 1; }
  echo "grew at $(vm_elapsed)s: $out" >"$LAB_DIR/midway"
  for _ in $(seq 120); do
    status | grep >/dev/null -E "reshape raid1 of 2 -> raid5 of 3 +[0-9.]+%" && break
    sleep 0.25
  done
  echo "at $(vm_elapsed)s: $(status | grep -E 'level|reshape' | tr -s ' ' | tr '\n' ' ')" \
    >>"$LAB_DIR/midway"
}
MIDWAY_ACTION=midway
# The reshape copies the 256 MiB shelves beside the guests' writes, at the min speed while
# they write: on a slow machine it may outlast them.  Once they are gone, wait for its end
# (bounded: it runs free then), before the host's fsck reads the volume.
RESHAPE_WAIT=150
reshape_end() {
  local when="before the guests ended"
  for _ in $(seq $((RESHAPE_WAIT * 4))); do
    if grep -q "reshape finished" "$VM_DIR/server.log"; then
      echo "reshape finished $when (at $(vm_elapsed)s)" >>"$LAB_DIR/midway"
      return 0
    fi
    when="after the guests ended"
    grep -q "reshape stopped" "$VM_DIR/server.log" && break
    sleep 0.25
  done
  echo "vm: FAIL: the reshape did not finish within ${RESHAPE_WAIT} s of the guests' end:" \
    "$(status | grep -E 'reshape' | tr -s ' ') $(grep -i reshape "$VM_DIR/server.log" | tail -2)" >&2
  return 1
}
AFTER_ACTION=reshape_end

vm_cluster_run || lab_die "GFS2 cluster on aoeraid grown from raid1 to raid5 failed"
cat "$LAB_DIR/midway"
grep -q "reshape raid1 of 2 -> raid5 of 3" "$LAB_DIR/midway" ||
  lab_die "no reshape was seen while the guests wrote"
grep -q "reshape finished" "$LAB_DIR/midway" ||
  lab_die "the reshape did not finish: $(grep -i reshape "$VM_DIR/server.log" | tail -2)"
echo "ok: reshaped raid1 of 2 -> raid5 of 3 while both guests wrote and verified; fsck clean"

sock=$LAB_DIR/nbd.sock
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 control="$ctl"
status | grep >/dev/null -E "level raid5 .* members 3 " || lab_die "not a raid5 of 3: $(status)"
size=$(nbdinfo --size "nbd+unix:///?socket=$sock")
status | grep >/dev/null "state clean" || lab_die "not clean: $(status)"
plugin_stop
echo "ok: the next start assembles raid5 of 3, $size bytes"
echo "gfs2-cluster-grow: passed"
