# shellcheck shell=bash
# tests/vm/cluster.sh: a two-node GFS2 cluster in qemu guests on one NBD export.
#
# Source it from a test (after tests/lab.sh if the test uses the lab), set what to serve,
# then call vm_cluster_run:
#
#   NBD_SERVER_CMD  the command that serves the volume, in the foreground, on
#                   127.0.0.1:$VM_NBD_PORT (bash expands $VM_NBD_PORT when it starts it).
#                   Default: nbdkit -f -i 127.0.0.1 -p $VM_NBD_PORT memory 1G
#   VM_NETNS        network namespace for the server, qemu and nbdfuse (e.g. $LAB_NS, where
#                   the AoE initiator sees the shelves); default: this shell's namespace.
#                   The guests reach the server as 10.0.2.2 (qemu user-mode networking
#                   connects that to 127.0.0.1 of the namespace qemu runs in).
#   MIDWAY_ACTION   a command run in this shell once both guests are writing, e.g.
#                   "lab_kill 2"; the run fails if the guests stopped writing before it
#                   returned (then raise VM_WRITE_SECONDS)
#   AFTER_ACTION    a command run in this shell once both guests passed and are gone,
#                   before the host's fsck, the server still serving (e.g. wait, bounded,
#                   for the end of work MIDWAY_ACTION began); the run fails if it fails
#                   (it says why on stderr)
#   VM_WRITE_SECONDS  how long each guest writes (20)
#   VM_TIMEOUT      bound on each guest's life in seconds (200)
#   VM_JOURNAL_MB   GFS2 journal size (32; two journals, so the volume needs ~100 MiB)
#   VM_MEM (768) VM_ACCEL (tcg: KVM does not work nested here) VM_CLUSTER_NAME (aoeraid)
#   VM_KEEP=1       keep the run directory after the run
#
# vm_cluster_run: starts the server, makes a lock_dlm GFS2 on it with mkfs.gfs2 through
# nbdfuse while the two guests boot and join the cluster (tests/vm/init-node.sh is their
# init; each attaches the export only once the host, mkfs done, says go on its ttyS1),
# runs MIDWAY_ACTION, waits for their verdicts, then runs fsck.gfs2 -n through nbdfuse and
# stops the server.
# Returns 0 when both guests print RESULT PASS and fsck is clean; otherwise prints one
# "vm: FAIL: ..." line (after the guests' console lines) and returns 1.
# Afterwards: VM_DIR holds vm1.log, vm2.log (consoles), server.log, fsck.log;
# VM_TIMES holds "phase=seconds" pairs measured from the start of the run.
#
# vm_exclusive: waits (up to 25 minutes) until no other test of this machine runs guests,
# and holds that until this shell exits.  Call it before lab_init: the wait must not count
# against the test's time limit.  Four guests on two CPUs (make check -j2 ran two of these
# tests at once) booted in 81 and 224 s and both tests ran out of time.
#
# vm_build: builds or reuses the guest images (tests/vm/build.sh), sets VM_IMAGE.
# Cleanup: every process is stopped by PID by vm_cleanup, which the EXIT trap runs (before
# lab_cleanup when tests/lab.sh is loaded).

VM_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VM_DIR=
VM_IMAGE=
VM_SERVER_PID=
VM_FUSE_PID=
VM_FUSE_MNT=
VM_MKFS_PID=
VM_MKFS=                        # mkfs.gfs2: running, done or failed
VM_GO_SAID=                     # the guests told go (" 1 2 ")
VM_PIDS=()
VM_TIMES=
VM_T0=
VM_FIRST_FAILED=                # the guest that failed first (vm_watch), if one did

vm_log() { echo "vm: $*" >&2; }

vm_exclusive() {
  local lock=${TMPDIR:-/tmp}/aoeraid-vm-guests.lock
  # the lock lives as long as fd 8: this shell's and its children's, which the lab and
  # vm_cleanup stop by PID at exit
  exec 8>"$lock" || { echo "vm: cannot open $lock" >&2; return 1; }
  if ! flock -n 8; then
    vm_log "waiting for another test's guests to finish ($lock)"
    flock -w 1500 8 || { echo "vm: another test held $lock for 25 minutes" >&2; return 1; }
  fi
}
vm_fail() { echo "vm: FAIL: $*" >&2; return 1; }
vm_elapsed() { echo $(($(date +%s) - VM_T0)); }
vm_mark() { VM_TIMES="${VM_TIMES:+$VM_TIMES }$1=$(vm_elapsed)"; vm_log "[$(vm_elapsed)s] $1"; }

# vm_ns CMD...: run CMD in VM_NETNS. nsenter changes only the network namespace (ip netns
# exec would also give CMD a private mount namespace, hiding nbdfuse's mount from us).
# Background jobs use "${VM_NS[@]}" CMD & directly, so that $! is CMD's own PID.
VM_NS=()
vm_ns() { "${VM_NS[@]}" "$@"; }

vm_require() {
  local c
  [ "$(id -u)" -eq 0 ] || { echo "vm: skip: needs root (FUSE, namespaces)" >&2; exit 77; }
  for c in qemu-system-x86_64 nbdkit nbdfuse fusermount3 mkfs.gfs2 fsck.gfs2 busybox \
    nsenter ss timeout; do
    command -v "$c" >/dev/null || { echo "vm: error: $c not found: run scripts/install-deps" >&2; exit 1; }
  done
  [ -e /dev/fuse ] || { echo "vm: skip: no /dev/fuse" >&2; exit 77; }
  qemu-system-x86_64 -accel help 2>/dev/null | grep -qx "${VM_ACCEL:-tcg}" ||
    { echo "vm: skip: this qemu cannot run guests with accelerator ${VM_ACCEL:-tcg}" >&2; exit 77; }
}

# build.sh resolves its package versions with apt-cache before it finds its cached image:
# 3 s (more under load) that each scenario paid.  Its answer is remembered for the apt
# state it came from (apt's lists and configuration, dpkg's status) and that build.sh,
# while the image it named is there.
vm_build() {
  local memo
  memo=${AOERAID_VM_CACHE:-/var/cache/aoeraid-vm}/resolved-$(vm_apt_state)
  if [ -s "$memo" ] && [ -f "$(cat "$memo")/base.cpio.gz" ]; then
    VM_IMAGE=$(cat "$memo")
    return 0
  fi
  VM_IMAGE=$("$VM_LIB_DIR/build.sh") || vm_fail "tests/vm/build.sh failed" || return 1
  rm -f "${memo%/*}"/resolved-*
  { echo "$VM_IMAGE" >"$memo.$$" && mv "$memo.$$" "$memo"; } 2>/dev/null || true
}

vm_apt_state() {
  { ls -lR --time-style=+%s.%N /var/lib/apt/lists /etc/apt; stat -c '%Y.%s' /var/lib/dpkg/status
    sha256sum <"$VM_LIB_DIR/build.sh"; } 2>/dev/null | sha256sum | cut -c1-16
}

vm_cleanup() {
  local rc=$? p
  set +e
  for p in "${VM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  [ -n "$VM_MKFS_PID" ] && vm_stop_pid "$VM_MKFS_PID"
  vm_fuse_down
  [ -n "$VM_SERVER_PID" ] && vm_stop_pid "$VM_SERVER_PID"
  for p in "${VM_PIDS[@]}"; do vm_stop_pid "$p"; done
  VM_PIDS=() VM_SERVER_PID=
  if [ -n "$VM_DIR" ] && [ "${VM_KEEP:-0}" != 1 ]; then rm -rf "$VM_DIR"; VM_DIR=; fi
  return $rc
}

# vm_stop_pid PID: TERM, wait up to 5 s, KILL.
vm_stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null
  wait "$1" 2>/dev/null
  return 0
}

vm_setup() {
  vm_require
  VM_T0=$(date +%s)
  VM_TIMES=
  VM_MKFS='' VM_GO_SAID=''
  VM_DIR=$(mktemp -d "${LAB_DIR:-${TMPDIR:-/tmp}}/aoeraid-vm.XXXXXX")
  VM_NS=()
  if [ -n "${VM_NETNS:-}" ]; then
    [ -e "/run/netns/$VM_NETNS" ] || vm_fail "VM_NETNS=$VM_NETNS: no such network namespace" || return 1
    VM_NS=(nsenter "--net=/run/netns/$VM_NETNS")
  fi
  if declare -F lab_cleanup >/dev/null; then
    trap 'vm_cleanup; lab_cleanup' EXIT
  else
    trap vm_cleanup EXIT
    trap 'vm_log interrupted; exit 130' INT
    trap 'vm_log terminated; exit 124' TERM
  fi
}

# A port nothing listens on in VM_NETNS (the server's bind is the real test: see
# vm_server_up, which tries again on another port when it loses a race).
vm_pick_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    vm_ns ss -Hltn "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}

# Start NBD_SERVER_CMD and wait until it, by PID, listens on VM_NBD_PORT.
vm_server_up() {
  # shellcheck disable=SC2016 # the server's shell expands $VM_NBD_PORT
  local cmd=${NBD_SERVER_CMD:-'nbdkit -f -i 127.0.0.1 -p $VM_NBD_PORT memory 1G'}
  for _ in 1 2 3 4 5; do
    VM_NBD_PORT=$(vm_pick_port)
    export VM_NBD_PORT
    "${VM_NS[@]}" bash -c "exec $cmd" >>"$VM_DIR/server.log" 2>&1 &
    VM_SERVER_PID=$!
    # A server may assemble its volume before it listens: give it 30 s.
    for _ in $(seq 300); do
      if vm_ns ss -Hltnp "sport = :$VM_NBD_PORT" | grep -q "pid=$VM_SERVER_PID,"; then
        vm_log "server pid $VM_SERVER_PID on 127.0.0.1:$VM_NBD_PORT${VM_NETNS:+ in netns $VM_NETNS}: $cmd"
        return 0
      fi
      kill -0 "$VM_SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    vm_stop_pid "$VM_SERVER_PID"
    VM_SERVER_PID=
    # Only a lost race for the port is worth another try.
    grep -qi 'address already in use' "$VM_DIR/server.log" || break
  done
  vm_fail "NBD_SERVER_CMD did not listen on 127.0.0.1:$VM_NBD_PORT: $cmd: $(tail -3 "$VM_DIR/server.log" | tr '\n' ' ')"
}

# vm_with_fuse CMD...: run CMD with the export as the file $VM_DISK (nbdfuse), then unmount.
vm_with_fuse() {
  local rc=0
  vm_fuse_up || return 1
  "$@" || rc=$?
  vm_fuse_down
  return $rc
}

vm_fuse_up() {
  VM_FUSE_MNT=$VM_DIR/fuse
  VM_DISK=$VM_FUSE_MNT/disk
  mkdir -p "$VM_FUSE_MNT"
  "${VM_NS[@]}" nbdfuse "$VM_DISK" --tcp 127.0.0.1 "$VM_NBD_PORT" >>"$VM_DIR/nbdfuse.log" 2>&1 &
  VM_FUSE_PID=$!
  for _ in $(seq 300); do
    [ -e "$VM_DISK" ] && break
    kill -0 "$VM_FUSE_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -e "$VM_DISK" ] || { vm_fuse_down; vm_fail "nbdfuse: $(tail -2 "$VM_DIR/nbdfuse.log")"; }
}

vm_fuse_down() {
  [ -n "$VM_FUSE_PID" ] || return 0
  mountpoint -q "$VM_FUSE_MNT" && fusermount3 -u "$VM_FUSE_MNT"
  vm_stop_pid "$VM_FUSE_PID"
  VM_FUSE_PID=
}

# mkfs and fsck read and write the whole volume through nbdfuse: bounded, so that a server
# that stalls a request fails the run naming the step, not the lab's watchdog.
VM_FS_TOOL_SECONDS=120
# mkfs.gfs2 runs in the background while the guests boot (a third of the run's time
# before, as a step of its own); vm_watch notes its end (vm_mkfs_end).
vm_mkfs_start() {
  vm_fuse_up || return 1
  timeout $VM_FS_TOOL_SECONDS mkfs.gfs2 -O -q -p lock_dlm -t "${VM_CLUSTER_NAME:-aoeraid}:gfs" \
    -j 2 -J "${VM_JOURNAL_MB:-32}" "$VM_DISK" >"$VM_DIR/mkfs.log" 2>&1 &
  VM_MKFS_PID=$!
  VM_MKFS=running
}

vm_mkfs_end() {
  local rc=0
  wait "$VM_MKFS_PID" || rc=$?
  VM_MKFS_PID=
  vm_fuse_down
  VM_MKFS=failed
  [ $rc != 124 ] || vm_fail "mkfs.gfs2 did not finish within $VM_FS_TOOL_SECONDS s (the server stalled?)" ||
    return 1
  [ $rc = 0 ] || vm_fail "mkfs.gfs2 failed (exit $rc): $(tail -2 "$VM_DIR/mkfs.log")" || return 1
  VM_MKFS='done'
  vm_mark mkfs
}

# Once mkfs.gfs2 has ended, say go to each guest that opened its go channel (it does
# before PHASE booted).  Returns 1 when mkfs failed.
vm_go_when_ready() {
  local n
  if [ "$VM_MKFS" = running ] && ! kill -0 "$VM_MKFS_PID" 2>/dev/null; then
    vm_mkfs_end || return 1
  fi
  [ "$VM_MKFS" = 'done' ] || return 0
  for n in 1 2; do
    [[ $VM_GO_SAID == *" $n "* ]] && continue
    vm_console_has $n "PHASE booted " || continue
    # read-write: opening a FIFO so never blocks, even if qemu is gone
    printf 'go\n' 1<>"$VM_DIR/go$n.in"
    VM_GO_SAID+=" $n "
  done
}

# The guests ended while mkfs.gfs2 ran (they failed): stop it.
vm_mkfs_abandon() {
  [ "$VM_MKFS" = running ] || return 0
  vm_stop_pid "$VM_MKFS_PID"
  VM_MKFS_PID='' VM_MKFS=failed
  vm_fuse_down
  vm_fail "the guests ended before mkfs.gfs2 did"
}

vm_fsck() {
  local rc=0
  timeout $VM_FS_TOOL_SECONDS fsck.gfs2 -n "$VM_DISK" >"$VM_DIR/fsck.log" 2>&1 || rc=$?
  [ $rc != 124 ] || vm_fail "fsck.gfs2 -n did not finish within $VM_FS_TOOL_SECONDS s (the server stalled?)" ||
    return 1
  [ $rc = 0 ] ||
    vm_fail "fsck.gfs2 -n found problems (exit $rc): $(grep -v '^$' "$VM_DIR/fsck.log" | tail -3 | tr '\n' ' ')"
}

# The per-run initramfs: the cached base plus /init and this run's cluster configuration
# (a second cpio archive appended; the kernel unpacks both).
vm_initrd() {
  local o=$VM_DIR/overlay
  mkdir -p "$o/etc/corosync" "$o/etc/dlm"
  cp "$VM_LIB_DIR/init-node.sh" "$o/init"
  chmod 755 "$o/init"
  printf '127.0.0.1 localhost\n192.168.100.1 n1\n192.168.100.2 n2\n' >"$o/etc/hosts"
  # corosync's parser wants each node block on several lines.
  cat >"$o/etc/corosync/corosync.conf" <<EOF
totem {
    version: 2
    cluster_name: ${VM_CLUSTER_NAME:-aoeraid}
    transport: knet
    crypto_cipher: none
    crypto_hash: none
    token: 5000
}
nodelist {
    node {
        ring0_addr: 192.168.100.1
        name: n1
        nodeid: 1
    }
    node {
        ring0_addr: 192.168.100.2
        name: n2
        nodeid: 2
    }
}
quorum {
    provider: corosync_votequorum
    two_node: 1
}
logging {
    to_stderr: yes
    to_logfile: no
    to_syslog: no
    timestamp: on
}
EOF
  # No fencing agent exists here; DLM must not wait for one.
  printf 'enable_fencing=0\nlog_debug=0\n' >"$o/etc/dlm/dlm.conf"
  cp "$VM_IMAGE/base.cpio.gz" "$VM_DIR/initrd.gz"
  (cd "$o" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >>"$VM_DIR/initrd.gz"
}

# vm_boot N: guest N; node 1 serves the cluster link's stream socket, node 2 connects.
# Its second serial port (ttyS1) reads the FIFO goN.in: the host's go (vm_go_when_ready).
vm_boot() {
  local n=$1 link server=on
  [ "$n" = 2 ] && server=off
  rm -f "$VM_DIR/go$n.in" "$VM_DIR/go$n.out"
  mkfifo "$VM_DIR/go$n.in" "$VM_DIR/go$n.out"
  link="stream,id=c0,server=$server,addr.type=unix,addr.path=$VM_DIR/link.sock"
  "${VM_NS[@]}" timeout "${VM_TIMEOUT:-200}" qemu-system-x86_64 -accel "${VM_ACCEL:-tcg}" \
    -m "${VM_MEM:-768}" -smp 1 -display none -monitor none -no-reboot \
    -serial "file:$VM_DIR/vm$n.log" -chardev "pipe,id=go,path=$VM_DIR/go$n" -serial chardev:go \
    -kernel "$VM_IMAGE/vmlinuz" -initrd "$VM_DIR/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 oops=panic hung_task_panic=1 node=$n nbdport=$VM_NBD_PORT writesec=${VM_WRITE_SECONDS:-20}" \
    -netdev "$link" -device "virtio-net-pci,netdev=c0,mac=52:54:00:12:34:0$n" \
    -netdev user,id=u0 -device "virtio-net-pci,netdev=u0,mac=52:54:00:aa:00:0$n" \
    >"$VM_DIR/qemu$n.log" 2>&1 </dev/null &
  VM_PIDS+=($!)
}

# The guest's last PHASE or STEP line: what it was doing when it stopped.
vm_last_step() {
  tr -d '\r' <"$VM_DIR/vm$1.log" | grep -a -o -E "(PHASE|STEP) .*" | tail -1 || echo none
}
vm_console_has() { grep -aq "$2" "$VM_DIR/vm$1.log" 2>/dev/null; }
vm_both_have() { vm_console_has 1 "$1" && vm_console_has 2 "$1"; }
vm_running() { local p; for p in "${VM_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }

# Follow both consoles until the guests exit: note phases, say go once mkfs has ended,
# run MIDWAY_ACTION once both are writing, and stop the other guest shortly after one fails.
vm_watch() {
  local midway=pending failed_at='' p phase n
  local phases="booted quorate dlm attached mounted writing write-end verified"
  while vm_running; do
    if ! vm_go_when_ready && [ -z "$failed_at" ]; then
      for p in "${VM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
      failed_at=$(date +%s)
    fi
    for phase in $phases; do
      if vm_both_have "PHASE $phase "; then vm_mark "$phase"; phases=${phases#"$phase"}; phases=${phases# }; fi
    done
    # Once the phase loop above has marked "writing" (both guests print it).
    if [ $midway = pending ] && [[ " $phases " != *" writing "* ]]; then
      vm_log "both guests are writing: MIDWAY_ACTION: ${MIDWAY_ACTION:-(none)}"
      if [ -n "${MIDWAY_ACTION:-}" ]; then
        eval "$MIDWAY_ACTION" || { vm_fail "MIDWAY_ACTION failed: $MIDWAY_ACTION"; midway=failed; }
        vm_mark midway-done
        if vm_console_has 1 "PHASE write-end " || vm_console_has 2 "PHASE write-end "; then
          vm_fail "the guests stopped writing before MIDWAY_ACTION returned: raise VM_WRITE_SECONDS"
          midway=late
        fi
      fi
      [ $midway = pending ] && midway='done'
    fi
    for n in 1 2; do
      if [ -z "$failed_at" ] && { vm_console_has $n "RESULT FAIL" || vm_console_has $n "Kernel panic"; }; then
        failed_at=$(date +%s)
        VM_FIRST_FAILED=$n
      fi
    done
    # The survivor would wait minutes for its peer: give it 15 s to report, then stop it.
    if [ -n "$failed_at" ] && [ $(($(date +%s) - failed_at)) -gt 15 ]; then
      for p in "${VM_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    fi
    sleep 0.5
  done
  for p in "${VM_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  VM_PIDS=()
  vm_mark guests-gone
  vm_mkfs_abandon || return 1
  [ "$VM_MKFS" = 'done' ] || return 1
  [ "$midway" = 'done' ] || [ "$midway" = pending ]
}

vm_boot_pair() {
  vm_boot 1
  for _ in $(seq 300); do [ -S "$VM_DIR/link.sock" ] && break; sleep 0.1; done
  [ -S "$VM_DIR/link.sock" ] || { vm_fail "guest 1 made no link socket: $(tail -2 "$VM_DIR/qemu1.log")"; return 1; }
  vm_boot 2
  vm_log "guests started: pids ${VM_PIDS[*]}"
}

# The verdict from both consoles; prints each guest's marker lines first.
vm_verdict() {
  local n ok=0 why
  for n in 1 2; do
    tr -d '\r' <"$VM_DIR/vm$n.log" | grep -a -E 'AOERAID_VM|Kernel panic|I/O error|withdraw' | sed "s/^/vm$n| /" >&2
  done
  for n in 1 2; do
    if vm_console_has $n "AOERAID_VM node$n RESULT PASS"; then continue; fi
    ok=1
    why=$(grep -a -m1 -o "RESULT FAIL.*" "$VM_DIR/vm$n.log" ||
      grep -a -m1 -o "Kernel panic.*" "$VM_DIR/vm$n.log" ||
      echo "no verdict (last line: $(tr -d '\r' <"$VM_DIR/vm$n.log" | grep -av '^$' | tail -1))")
    if [ -n "$VM_FIRST_FAILED" ] && [ "$VM_FIRST_FAILED" != $n ] && [[ $why == "no verdict"* ]]; then
      why="$why; stopped by the host after guest $VM_FIRST_FAILED failed"
    fi
    vm_fail "guest $n: $why; its last step: $(vm_last_step $n)" || true
    [ -s "$VM_DIR/qemu$n.log" ] && vm_log "qemu $n said: $(tail -2 "$VM_DIR/qemu$n.log" | tr '\n' ' ')"
    # A hung task: which one, and where it waited (the kernel prints it before the panic).
    tr -d '\r' <"$VM_DIR/vm$n.log" | grep -a -A 12 -m 2 'blocked for more than' |
      sed "s/^/vm$n| /" >&2 || true
  done
  return $ok
}

vm_cluster_run() {
  local rc=0
  vm_setup || return 1
  [ -n "$VM_IMAGE" ] || vm_build || return 1
  vm_server_up || return 1
  vm_mark server-up
  vm_initrd
  vm_mkfs_start || return 1
  vm_boot_pair || return 1
  vm_watch || rc=1
  [ "$VM_MKFS" = 'done' ] || return 1     # said why; the guests, stopped, have nothing to say
  vm_verdict || rc=1
  if [ $rc = 0 ] && [ -n "${AFTER_ACTION:-}" ]; then
    eval "$AFTER_ACTION" || { vm_fail "AFTER_ACTION failed: $AFTER_ACTION"; rc=1; }
    vm_mark after-action
  fi
  if vm_with_fuse vm_fsck; then
    vm_log "host fsck.gfs2 -n: clean"
  else
    rc=1
  fi
  vm_mark fsck
  # On a failure, what the server said besides debug lines: its side of a stall.
  [ $rc = 0 ] || grep -v 'debug' "$VM_DIR/server.log" | tail -n 15 | sed 's/^/server| /' >&2
  vm_stop_pid "$VM_SERVER_PID"
  VM_SERVER_PID=
  vm_log "timings (s since start): $VM_TIMES"
  [ $rc = 0 ] && vm_log "PASS: both guests verified each other's data; fsck clean"
  return $rc
}
