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
ctl=$LAB_DIR/control.sock
NBD_SERVER_CMD="nbdkit -f -i 127.0.0.1 -p \$VM_NBD_PORT $AOERAID_PLUGIN iface=h0 \
  discover-time=2 shelves=e1.1,e2.1 level=1 name=gfs2cluster control=$ctl"
array_state() {
  python3 -c "
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.sendall(b'status\\n')
sys.stdout.write(s.makefile().read())" "$ctl" 2>/dev/null | awk '$1 == "state" {print $2}'
}
# Kill a shelf, then wait (the guests still writing) until the array has noticed, so the
# rest of the write phase runs degraded.
midway() {
  local state=
  lab_kill 2
  echo "killed shelf e2.1 at $(vm_elapsed)s" >"$LAB_DIR/midway"
  for _ in $(seq 24); do
    state=$(array_state)
    [ "$state" = degraded ] && break
    sleep 0.5
  done
  echo "array state ${state:-unknown} at $(vm_elapsed)s" >>"$LAB_DIR/midway"
}
MIDWAY_ACTION=midway

vm_cluster_run || lab_die "GFS2 cluster on aoeraid RAID1 with a shelf killed midway failed"
[ -s "$LAB_DIR/midway" ] || lab_die "MIDWAY_ACTION never ran"
grep -q 'array state degraded' "$LAB_DIR/midway" ||
  lab_die "the array did not turn degraded within 12 s of the kill: $(tail -1 "$LAB_DIR/midway")"
echo "ok: $(head -1 "$LAB_DIR/midway"), $(tail -1 "$LAB_DIR/midway"), while both guests wrote"
echo "gfs2-cluster-aoeraid: passed"
