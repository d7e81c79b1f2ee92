#!/usr/bin/env bash
# The cluster rig catches I/O errors: the same two-guest GFS2 run as gfs2-cluster-memory.sh,
# in this shell's own network namespace, but the export fails half its writes for three
# seconds while both guests write. The run must fail, with the guests' kernel logs showing
# the I/O errors. (This is what a RAID layer that lets a member's failure through to its
# clients looks like to the aoeraid cluster test.)
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
. "$top_srcdir/tests/vm/cluster.sh"
vm_exclusive
lab_init 420

INJECT=$LAB_DIR/inject
# shellcheck disable=SC2016 # expanded when cluster.sh starts the server
NBD_SERVER_CMD="nbdkit -f -i 127.0.0.1 -p \$VM_NBD_PORT --filter=error memory 1G \
  error-pwrite=EIO error-pwrite-rate=50% error-pwrite-file=$INJECT"
inject() { touch "$INJECT"; sleep 3; rm -f "$INJECT"; }
MIDWAY_ACTION=inject
VM_WRITE_SECONDS=10
VM_KEEP=1

if vm_cluster_run; then
  lab_die "the run passed although the export failed writes: the rig cannot see I/O errors"
fi
grep -aqi 'I/O error' "$VM_DIR"/vm[12].log ||
  lab_die "the run failed, but no guest logged an I/O error: $(grep -ah 'RESULT' "$VM_DIR"/vm[12].log)"
grep -ah 'RESULT FAIL\|Kernel panic' "$VM_DIR"/vm[12].log | sed 's/^/ok: caught: /'
echo "gfs2-cluster-ioerror: passed"
