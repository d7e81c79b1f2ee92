#!/bin/sh
# PID 1 of one GFS2 cluster node (tests/vm/cluster.sh appends it to the base initramfs).
#
# Kernel command line: node=1|2 nbdport=PORT writesec=SECONDS
# NICs, found by MAC: 52:54:00:12:34:0N the cluster link to the other node (192.168.100.N,
# corosync/knet and DLM); 52:54:00:aa:00:0N qemu user-mode networking, where the host's
# NBD server is 10.0.2.2:PORT.
#
# Everything the host acts on is one console line "AOERAID_VM nodeN PHASE name t=UPTIME"
# or, last, "AOERAID_VM nodeN RESULT PASS" / "AOERAID_VM nodeN RESULT FAIL: why"; the
# lines "AOERAID_VM nodeN STEP what t=UPTIME" name what it does between phases (a guest
# that hangs is reported with its last one).
# The workload: join corosync + dlm_controld, wait for the host's "go" on the second serial
# port (ttyS1: the host makes the filesystem while the guests boot and join), attach the
# export with nbd-client, mount the lock_dlm GFS2, then for writesec seconds write files of
# random data (fsync'd, each with its md5 in a manifest) and append a line to one shared file under flock; the host's
# MIDWAY_ACTION runs while both nodes are in that loop. Then each node in turn (node 1
# first) remounts and checks both nodes' files and the shared file; each unmounts (node 2
# first) and checks its kernel log for I/O errors.
export PATH=/usr/sbin:/usr/bin:/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mkdir -p /run/dlm_controld /var/log/dlm_controld
echo /sbin/modprobe >/proc/sys/kernel/modprobe
# A task blocked this long panics the guest (hung_task_panic=1 panic=-1): qemu exits.
echo 60 >/proc/sys/kernel/hung_task_timeout_secs

arg() { sed -n "s/.*[ ]$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
N=$(arg node)
O=$((3 - N))
PORT=$(arg nbdport)
WRITE_SECONDS=$(arg writesec)
IO_ERRORS='i/o error|blk_update_request|nbd.*error|withdraw'

uptime_s() { cut -d' ' -f1 /proc/uptime; }
now() { cut -d. -f1 /proc/uptime; }
say() { echo "AOERAID_VM node$N $*"; }
phase() { say "PHASE $* t=$(uptime_s)"; }
step() { say "STEP $* t=$(uptime_s)"; }
fail() {
  say "RESULT FAIL: $*"
  dmesg | tail -20
  tail -n 15 /tmp/corosync.log /tmp/dlm.log /tmp/nbd-client.log 2>/dev/null
  poweroff -f
}
# waitfor SECONDS CONDITION: poll CONDITION (a shell command) once a second.
waitfor() {
  i=0
  while ! eval "$2"; do
    i=$((i + 1))
    [ $i -gt "$1" ] && return 1
    sleep 1
  done
}
ifbymac() {
  for i in /sys/class/net/*; do
    [ "$(cat "$i/address")" = "$1" ] && { basename "$i"; return 0; }
  done
  return 1
}

bring_up() {
  for m in virtio_pci virtio_net crc32c_generic configfs dlm gfs2; do
    modprobe $m || fail "modprobe $m"
  done
  modprobe nbd nbds_max=1 max_part=0 || fail "modprobe nbd"
  mount -t configfs none /sys/kernel/config
  # What udev would make: dlm_controld opens /dev/misc/dlm-*.
  mkdir -p /dev/misc
  for d in dlm-control dlm-monitor dlm_plock; do ln -sf ../$d /dev/misc/$d; done
  hostname n$N
  ip link set lo up
  waitfor 10 'C=$(ifbymac 52:54:00:12:34:0$N) && U=$(ifbymac 52:54:00:aa:00:0$N)' ||
    fail "NICs missing: $(ls /sys/class/net)"
  ip addr add 192.168.100.$N/24 dev "$C" && ip link set "$C" up || fail "cluster NIC $C"
  ip addr add 10.0.2.15/24 dev "$U" && ip link set "$U" up || fail "user NIC $U"
  # Open before "PHASE booted", after which the host may say go: the tty keeps a line
  # that comes while it is open (the UART's own FIFO is cleared when it is opened).
  exec 3</dev/ttyS1 || fail "no /dev/ttyS1 (the host's go channel)"
  stty -echo <&3 || fail "stty -echo on ttyS1"
  phase booted
}

# The host runs mkfs.gfs2 on the export while the guests boot and join the cluster, and
# says "go" on ttyS1 once it has finished: nothing may read or write the export before.
GO_SECONDS=150
wait_go() {
  step "wait for the host's mkfs.gfs2 (its go on ttyS1)"
  # shellcheck disable=SC3045 # busybox ash has read -t
  read -r -t $GO_SECONDS word <&3 || fail "no go from the host within $GO_SECONDS s (its mkfs.gfs2 hung?)"
  [ "$word" = go ] || fail "the host said '$word' on ttyS1, not go"
  exec 3<&-
}

# The kernel NBD client, as a real client would attach; no I/O timeout (TCG is slow).
# Its negotiation is bounded, though: a server that accepts and never answers would
# otherwise hold the guest until the host's qemu timeout, with no line saying where.
NBD_NEGOTIATE_SECONDS=60
attach() {
  waitfor 10 '[ -b /dev/nbd0 ]' || fail "no /dev/nbd0"
  step "nbd-client negotiation with 10.0.2.2:$PORT"
  timeout "$NBD_NEGOTIATE_SECONDS" nbd-client 10.0.2.2 "$PORT" /dev/nbd0 -N '' -b 4096 \
    >/tmp/nbd-client.log 2>&1
  rc=$?
  # killed by timeout: coreutils says 124, busybox's shows the signal (128 + TERM)
  [ $rc -eq 124 ] || [ $rc -gt 128 ] &&
    fail "nbd-client 10.0.2.2 $PORT: negotiation hung: no export within" \
      "${NBD_NEGOTIATE_SECONDS} s (is the server up and answering NBD?)"
  [ $rc -eq 0 ] || fail "nbd-client 10.0.2.2 $PORT: $(tail -1 /tmp/nbd-client.log)"
  waitfor 10 '[ "$(cat /sys/block/nbd0/size)" != 0 ]' || fail "/dev/nbd0 has size 0"
  phase attached size=$(($(cat /sys/block/nbd0/size) / 2048))MiB
}

join_cluster() {
  corosync -f >/tmp/corosync.log 2>&1 &
  # shellcheck disable=SC2034 # used in the waitfor condition
  cpid=$!
  waitfor 120 'kill -0 $cpid || fail "corosync died"
    corosync-quorumtool -s 2>/dev/null | grep -q "Quorate: *Yes"' || fail "no quorum"
  phase quorate
  dlm_controld -D >/tmp/dlm.log 2>&1 &
  DLM_PID=$!
  waitfor 60 'kill -0 $DLM_PID || fail "dlm_controld died"
    [ -e /sys/kernel/config/dlm/cluster/comms/$N/local ] &&
    [ -e /sys/kernel/config/dlm/cluster/comms/$O ]' || fail "dlm_controld configured no comms"
  phase dlm
}

mount_gfs2() {
  mount -t gfs2 -o errors=panic /dev/nbd0 /mnt || fail "mount $1"
}

# Writes for WRITE_SECONDS from the moment both nodes are mounted.
write_loop() {
  mkdir -p /mnt/node$N
  touch /mnt/ready.$N
  waitfor 120 "[ -e /mnt/ready.$O ]" || fail "node$O never mounted"
  dd if=/dev/urandom of=/mnt/node$N/big bs=1M count=8 conv=fsync 2>/dev/null || fail "write big"
  md5sum /mnt/node$N/big | cut -d' ' -f1 >/mnt/node$N/big.md5
  end=$(($(now) + WRITE_SECONDS))
  i=0
  while [ "$(now)" -lt $end ] || [ $i -lt 3 ]; do
    i=$((i + 1))
    dd if=/dev/urandom of=/mnt/node$N/f$i bs=16k count=4 conv=fsync 2>/dev/null || fail "write f$i"
    echo "f$i $(md5sum /mnt/node$N/f$i | cut -d' ' -f1)" >>/mnt/node$N/manifest
    flock /mnt/shared.lock sh -c "echo node$N-$i >>/mnt/shared.log && sync /mnt/shared.log" ||
      fail "append $i to shared.log"
    [ $i = 1 ] && phase writing
  done
  echo $i >/mnt/node$N/count
  sync
  phase write-end files=$i
}

# check_node M: node M's files match its manifest, and the shared file has each of its
# lines exactly once, in order.
check_node() {
  count=$(cat /mnt/node$1/count) || fail "node$1 left no count"
  [ "$(wc -l </mnt/node$1/manifest)" = "$count" ] || fail "node$1 manifest is not $count lines"
  while read -r f sum; do
    [ "$(md5sum /mnt/node$1/$f | cut -d' ' -f1)" = "$sum" ] || fail "node$1/$f differs from its md5"
  done </mnt/node$1/manifest
  [ "$(md5sum /mnt/node$1/big | cut -d' ' -f1)" = "$(cat /mnt/node$1/big.md5)" ] ||
    fail "node$1/big differs from its md5"
  grep "^node$1-" /mnt/shared.log | cut -d- -f2 >/tmp/lines.$1
  seq 1 "$count" | cmp -s - /tmp/lines.$1 ||
    fail "shared.log: node$1's lines are not 1..$count in order ($(wc -l </tmp/lines.$1) lines)"
  say "checked node$1: $count files and shared.log lines match"
}

# Is node M a member of the lockspace of our GFS2 (dlm_tool ls: "members       1 2 ")?
in_lockspace() {
  dlm_tool ls 2>/dev/null | grep -Eq "^members .* $1( |\$)"
}

# One node at a time leaves and joins the lockspace: node 1 remounts and checks while node
# 2 stays mounted, then node 2 while node 1 stays; node 2 unmounts, then node 1.  (Both
# left and joined at once before, each tearing down and restarting its DLM connections,
# its only lockspace gone, while the other joined: twice in full suites a guest hung
# there, in D state past the 60 s hung-task bound, before it had checked anything.)
verify() {
  touch /mnt/done.$N
  waitfor 120 "[ -e /mnt/done.$O ]" || fail "node$O never finished writing"
  if [ $N = 2 ]; then
    step "wait for node1's remount and check"
    waitfor 120 "[ -e /mnt/checked.1 ]" || fail "node1 never finished its remount and check"
  fi
  step umount
  umount /mnt || fail "umount"
  # Read back through a fresh mount, not from this node's page cache.
  step remount
  mount_gfs2 again
  step check
  check_node $N
  check_node $O
  [ "$(wc -l </mnt/shared.log)" = "$(($(cat /mnt/node1/count) + $(cat /mnt/node2/count)))" ] ||
    fail "shared.log has lines from neither node"
  touch /mnt/checked.$N
  if [ $N = 1 ]; then
    step "wait for node2's remount and check"
    waitfor 120 "[ -e /mnt/checked.2 ]" || fail "node2 never finished its remount and check"
    step "wait for node2 to leave the lockspace ($(dlm_tool ls 2>&1 | grep -E '^members' | tr -s ' '))"
    waitfor 60 "! in_lockspace 2" ||
      fail "node2 did not leave the lockspace within 60 s of its check: $(dlm_tool ls | tr '\n' ' ')"
  fi
  step "final umount"
  umount /mnt || fail "final umount"
  phase verified
}

detach() {
  step detach
  nbd-client -d /dev/nbd0 >/dev/null 2>&1 || fail "nbd-client -d"
  waitfor 10 '! nbd-client -c /dev/nbd0 >/dev/null 2>&1' || fail "nbd0 still attached after -d"
}

check_kernel_log() {
  errors=$(dmesg | grep -iE "$IO_ERRORS")
  [ -z "$errors" ] || fail "kernel log has I/O errors: $(echo "$errors" | head -3 | tr '\n' '|')"
  dmesg | grep -i 'stuck request' | head -3 | sed "s/^/AOERAID_VM node$N NOTE /"
}

phase init
bring_up
join_cluster
wait_go
attach
mount_gfs2 first
phase mounted
write_loop
verify
detach
check_kernel_log
say "RESULT PASS"
# Leave the lockspace and the cluster cleanly, so the other node needs no recovery.
kill $DLM_PID 2>/dev/null
sleep 1
corosync-cfgtool -H >/dev/null 2>&1
sleep 1
poweroff -f
