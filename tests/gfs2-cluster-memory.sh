#!/usr/bin/env bash
# Two qemu guests attach one NBD export with the kernel NBD client, form a corosync + DLM
# cluster and share one lock_dlm GFS2: each writes its own files and appends to one shared
# file under flock, each checks the other's data after a remount, the kernel logs show no
# I/O errors, and the host's fsck.gfs2 -n finds the filesystem clean.
# The export is `nbdkit memory 1G`, run like the aoeraid plugin will be: inside the lab's
# initiator namespace, with a shelf killed while both guests write (the shelf backs nothing
# here; with aoeraid, NBD_SERVER_CMD below becomes the plugin on the lab's shelves).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
. "$top_srcdir/tests/vm/cluster.sh"
lab_init 280
lab_up -n 2 -s 8M

VM_NETNS=$LAB_NS
# shellcheck disable=SC2016 # expanded when cluster.sh starts the server
NBD_SERVER_CMD='nbdkit -f -i 127.0.0.1 -p $VM_NBD_PORT memory 1G'
midway() {
  lab_kill 2
  echo "killed shelf e2.1 at $(vm_elapsed)s" >"$LAB_DIR/midway"
}
MIDWAY_ACTION=midway

vm_cluster_run || lab_die "GFS2 cluster on the memory export failed (see the vm lines above)"
[ -s "$LAB_DIR/midway" ] || lab_die "MIDWAY_ACTION never ran"
[ -z "$(lab_shelf_pids 2)" ] || lab_die "shelf 2 still has processes after the midway kill"
echo "ok: $(cat "$LAB_DIR/midway"), while both guests wrote"
echo "gfs2-cluster-memory: passed"
