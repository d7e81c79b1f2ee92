#!/usr/bin/env bash
# The seed's scenario: two qemu guests share one lock_dlm GFS2 on an aoeraid array of
# vblade shelves, attached with the kernel NBD client, and a shelf is killed while both
# write. The guests must see no I/O error, each must read back both nodes' data after a
# remount, and the host's fsck.gfs2 -n must find the degraded volume clean.
#   gfs2-cluster-aoeraid.sh LEVEL SHELVES     (default: 1 2)
set -euo pipefail
level=${1:-1} n=${2:-2}
. "$top_srcdir/tests/lab.sh"
. "$top_srcdir/tests/vm/cluster.sh"
vm_exclusive
lab_init 480
. "$top_srcdir/tests/plugin-lib.sh"
lab_up -n "$n" -s 256M
shelves=$(seq -s, -f 'e%g.1' 1 "$n")

VM_NETNS=$LAB_NS
ctl=$LAB_DIR/control.sock
NBD_SERVER_CMD="nbdkit -f -i 127.0.0.1 -p \$VM_NBD_PORT $AOERAID_PLUGIN iface=h0 \
  discover-time=2 shelves=$shelves level=$level name=gfs2cluster control=$ctl"
array_state() { aoeraid status -c "$ctl" 2>/dev/null | awk '$1 == "state" {print $2}'; }
# Kill a shelf, then wait (the guests still writing) until the array has noticed, so the
# rest of the write phase runs degraded.
midway() {
  local state=
  lab_kill 2
  echo "killed shelf e2.1 at $(vm_elapsed)s" >"$LAB_DIR/midway"
  for _ in $(seq 60); do
    state=$(array_state)
    [ "$state" = degraded ] && break
    sleep 0.5
  done
  echo "array state ${state:-unknown} at $(vm_elapsed)s" >>"$LAB_DIR/midway"
}
MIDWAY_ACTION=midway

vm_cluster_run || lab_die "GFS2 cluster on aoeraid level $level with a shelf killed midway failed"
[ -s "$LAB_DIR/midway" ] || lab_die "MIDWAY_ACTION never ran"
grep -q 'array state degraded' "$LAB_DIR/midway" ||
  lab_die "the array did not turn degraded within 30 s of the kill: $(tail -1 "$LAB_DIR/midway")"
echo "ok: $(head -1 "$LAB_DIR/midway"), $(tail -1 "$LAB_DIR/midway"), while both guests wrote"
echo "gfs2-cluster-aoeraid: passed"
