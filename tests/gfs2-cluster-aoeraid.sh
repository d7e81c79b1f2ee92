#!/usr/bin/env bash
# Issue 8: two qemu guests share one lock_dlm GFS2 on an aoeraid RAID1 of two shelves,
# attached with the kernel NBD client, and a shelf is killed while both write. The guests
# must see no I/O error, each must read back both nodes' data after a remount, and the
# host's fsck.gfs2 -n must find the degraded volume clean.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
. "$top_srcdir/tests/vm/cluster.sh"
lab_init 300
. "$top_srcdir/tests/plugin-lib.sh"
lab_up -n 2 -s 256M

VM_NETNS=$LAB_NS
NBD_SERVER_CMD="nbdkit -f -i 127.0.0.1 -p \$VM_NBD_PORT $AOERAID_PLUGIN iface=h0 \
  discover-time=2 shelves=e1.1,e2.1 level=1 name=gfs2cluster"
midway() {
  lab_kill 2
  echo "killed shelf e2.1 at $(vm_elapsed)s" >"$LAB_DIR/midway"
}
MIDWAY_ACTION=midway

vm_cluster_run || lab_die "GFS2 cluster on aoeraid RAID1 with a shelf killed midway failed"
[ -s "$LAB_DIR/midway" ] || lab_die "MIDWAY_ACTION never ran"
echo "ok: $(cat "$LAB_DIR/midway"), while both guests wrote"
echo "gfs2-cluster-aoeraid: passed"
