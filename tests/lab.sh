# tests/lab.sh: a private AoE SAN on this machine, for integration tests.
#
# Source it from a test, then:
#   lab_init SECONDS          unique names, cleanup trap, a watchdog bounding the run
#   lab_up [-n N] [-s SIZE] [-m MTU] [-p PATHS]
#                             N vblade shelves eI.1 (I = 1..N), each in its own netns on a
#                             sparse file of SIZE, joined by a bridge to the initiator netns.
#                             PATHS=2 gives every shelf and the initiator a second NIC on a
#                             second bridge, with a second vblade per shelf (multipath).
#                             Per-shelf vblade flags: LAB_FLAGS[I]="-s -b 32" before lab_up.
#   lab_kill I | lab_freeze I | lab_thaw I | lab_start I
#                             stop a shelf (all its paths), SIGSTOP/SIGCONT it, restart it
#                             on its old file with its old flags
#   lab_impostor I SIZE [SHELF SLOT]
#                             a second vblade in its own netns on a new file of SIZE claiming
#                             shelf.slot eSHELF.SLOT (default eI.1)
#   lab_host2                 a second initiator netns LAB_NS2 (iface h0, its own MAC) on br0
#   lab_host_mac [IFACE [NS]] the MAC of IFACE (h0) in NS (the initiator netns)
#   lab_netem ARGS...         tc netem on the initiator's link(s) (lab_netem_clear to undo)
#   lab_exec CMD...           run CMD inside the initiator netns
#   lab_bg VAR CMD...         run CMD in the background inside the initiator netns; its PID
#                             goes in VAR and is stopped by PID at cleanup
#   lab_track PID             stop PID at cleanup too
# Variables: LAB_NS (initiator netns), LAB_IFACE (h0), LAB_IFACES ("h0" or "h0 h1"),
#   LAB_DIR (scratch directory, removed at cleanup), LAB_IMG[I] (shelf I's backing file),
#   LAB_MTU, LAB_N.
# Every name carries the PID of the test ("ar<pid>-..."), so two runs never collide and a
# later run can remove what a killed run left behind.

LAB_PIDS=()
LAB_NETNS=()
LAB_DIR=
LAB_WATCHDOG=
LAB_LIMIT=
declare -a LAB_FLAGS LAB_IMG LAB_SHELF_PIDS

lab_log() { echo "lab: $*" >&2; }
lab_die() { echo "lab: error: $*" >&2; exit 1; }
lab_skip() { echo "lab: skip: $*" >&2; exit 77; }

# Remove namespaces left by runs whose test process is gone.
lab_reap_stale() {
  local ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^ar[0-9]+-' || true); do
    pid=${ns#ar}; pid=${pid%%-*}
    if ! kill -0 "$pid" 2>/dev/null; then
      for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
  done
}

lab_require() {
  [ "$(id -u)" -eq 0 ] || lab_skip "needs root (network namespaces)"
  local c
  for c in ip vblade tc; do
    command -v "$c" >/dev/null || lab_die "$c not found: run scripts/install-deps"
  done
  ip netns add "ar$$-probe" 2>/dev/null || lab_skip "cannot create network namespaces here"
  ip netns del "ar$$-probe"
}

lab_init() {
  local seconds=${1:-120}
  LAB_LIMIT=$seconds
  lab_require
  lab_reap_stale
  LAB_PREFIX="ar$$"
  LAB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aoeraid-lab.XXXXXX")
  LAB_NS="$LAB_PREFIX-host"
  trap lab_cleanup EXIT
  trap 'lab_log "interrupted"; exit 130' INT
  trap "lab_log 'terminated (time limit ${seconds}s?)'; exit 124" TERM
  # The watchdog stops the foreground command first: bash runs the TERM trap only after it
  # returns.
  ( sleep "$seconds"; echo "lab: error: test exceeded its ${seconds}s limit" >&2
    kill -TERM $$ 2>/dev/null
    for c in $(pgrep -P $$); do [ "$c" = "$BASHPID" ] || kill -TERM "$c" 2>/dev/null; done ) >&2 &
  LAB_WATCHDOG=$!
  disown "$LAB_WATCHDOG"    # killed at cleanup: no "Terminated" job notice
}

lab_track() { LAB_PIDS+=("$1"); }

# A process is gone once it has exited, even if nobody reaped it yet: a daemon (nbdkit,
# nbdfuse) is reparented to an init that may leave it a zombie for a while.
lab_alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# A failed test shows the end of each server log it kept (LAB_DIR goes below): what an
# nbdkit said before it died (an abort's assertion) is otherwise lost with the directory.
lab_show_logs() {
  local f
  for f in "$LAB_DIR"/*.log; do
    [ -s "$f" ] || continue
    echo "---- last lines of ${f##*/}"
    tail -n 25 "$f"
  done
}

lab_cleanup() {
  local rc=$? p ns
  set +e
  local dog_kids
  trap '' TERM INT          # a late watchdog or ^C must not cut the cleanup short
  [ "$rc" -ne 0 ] && [ -n "$LAB_DIR" ] && [ -d "$LAB_DIR" ] && lab_show_logs
  disown -a 2>/dev/null     # stopped below by PID; no "Terminated" notices for them
  # The watchdog first, then its sleep, which would outlive it and hold the caller's
  # stdout open: its sleep killed first, the watchdog would wake and call a test that
  # ended in time "exceeded its limit", and kill the cleanup.
  if [ -n "$LAB_WATCHDOG" ]; then
    dog_kids=$(pgrep -P "$LAB_WATCHDOG")
    kill "$LAB_WATCHDOG" 2>/dev/null
    # shellcheck disable=SC2086 # PIDs, split
    [ -z "$dog_kids" ] || kill $dog_kids 2>/dev/null
  fi
  for p in "${LAB_PIDS[@]}" "${LAB_SHELF_PIDS[@]}"; do
    [ -n "$p" ] && kill -CONT "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null
  done
  for p in "${LAB_PIDS[@]}" "${LAB_SHELF_PIDS[@]}"; do
    [ -n "$p" ] || continue
    for _ in 1 2 3 4 5 6 7 8 9 10; do lab_alive "$p" || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
  done
  for ns in "${LAB_NETNS[@]}"; do
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  [ -n "$LAB_DIR" ] && rm -rf "$LAB_DIR"
  # read by scripts/test, which lists the slowest tests (the suite must stay well under 20 min)
  echo "lab: ran ${SECONDS}s of its ${LAB_LIMIT}s limit"
  exit "$rc"
}

lab_netns_add() {
  ip netns add "$1" || lab_die "ip netns add $1 failed"
  LAB_NETNS+=("$1")
  ip -n "$1" link set lo up
}

# lab_link NS IFACE BRIDGEPORT BRIDGE: a veth from NS to the san netns's bridge.
lab_link() {
  local ns=$1 ifname=$2 port=$3 br=$4
  ip link add "$ifname" mtu "$LAB_MTU" netns "$ns" type veth \
     peer name "$port" mtu "$LAB_MTU" netns "$LAB_PREFIX-san" ||
    lab_die "veth $ns/$ifname failed"
  ip -n "$ns" link set "$ifname" up
  ip -n "$LAB_PREFIX-san" link set "$port" master "$br" up
}

lab_up() {
  local n=3 size=64M opt i p
  LAB_MTU=1500 LAB_PATHS=1
  OPTIND=1
  while getopts "n:s:m:p:" opt; do
    case $opt in
      n) n=$OPTARG ;; s) size=$OPTARG ;; m) LAB_MTU=$OPTARG ;; p) LAB_PATHS=$OPTARG ;;
      *) lab_die "lab_up: bad option" ;;
    esac
  done
  LAB_N=$n
  lab_netns_add "$LAB_PREFIX-san"
  for p in $(seq 0 $((LAB_PATHS - 1))); do
    ip -n "$LAB_PREFIX-san" link add "br$p" type bridge
    # No STP, no forwarding delay: frames flow as soon as ports are up.
    ip -n "$LAB_PREFIX-san" link set "br$p" type bridge stp_state 0 forward_delay 0 2>/dev/null
    ip -n "$LAB_PREFIX-san" link set "br$p" mtu "$LAB_MTU" up
  done
  lab_netns_add "$LAB_NS"
  LAB_IFACES=
  for p in $(seq 0 $((LAB_PATHS - 1))); do
    lab_link "$LAB_NS" "h$p" "h$p-br" "br$p"
    LAB_IFACES="${LAB_IFACES:+$LAB_IFACES }h$p"
  done
  LAB_IFACE=h0
  for i in $(seq 1 "$n"); do
    lab_netns_add "$LAB_PREFIX-s$i"
    for p in $(seq 0 $((LAB_PATHS - 1))); do
      lab_link "$LAB_PREFIX-s$i" "eth$p" "s$i-$p" "br$p"
    done
    LAB_IMG[$i]="$LAB_DIR/shelf$i.img"
    truncate -s "$size" "${LAB_IMG[$i]}"
    lab_spawn "$i"
  done
  # shellcheck disable=SC2046 # PIDs, split
  lab_wait_vblade $(for i in $(seq 1 "$n"); do echo "${LAB_SHELF_PIDS[$i]}"; done)
  lab_wait_links
}

# Wait until the initiator's links carry traffic (veth and bridge ports need a moment).
lab_wait_links() {
  local ifc
  for _ in $(seq 300); do
    local ok=1
    for ifc in $LAB_IFACES; do
      ip -n "$LAB_NS" link show "$ifc" | grep >/dev/null 'state UP' || ok=0
    done
    [ $ok = 1 ] && return 0
    sleep 0.1
  done
  lab_die "initiator links did not come up"
}

lab_start() {
  lab_spawn "$1"
  # shellcheck disable=SC2086 # PIDs, split
  lab_wait_vblade ${LAB_SHELF_PIDS[$1]}
}
# Start shelf I's vblade(s) without waiting for them: lab_up starts every shelf, then waits
# for all at once.
lab_spawn() {
  local i=$1 p pids=
  for p in $(seq 0 $((LAB_PATHS - 1))); do
    # shellcheck disable=SC2086
    ip netns exec "$LAB_PREFIX-s$i" vblade ${LAB_FLAGS[$i]:-} "$i" 1 "eth$p" "${LAB_IMG[$i]}" \
      >>"$LAB_DIR/vblade$i.log" 2>&1 &
    pids="${pids:+$pids }$!"
  done
  LAB_SHELF_PIDS[$i]=$pids
}

# vblade is ready once it holds its raw socket; a query sent earlier goes unanswered.  The
# PID is first `ip netns exec`'s, which holds netlink sockets until it execs vblade.
lab_wait_vblade() {
  local p
  for p in "$@"; do
    for _ in $(seq 600); do
      [ "$(cat "/proc/$p/comm" 2>/dev/null)" = vblade ] &&
        ls -l "/proc/$p/fd" 2>/dev/null | grep >/dev/null 'socket:' && break
      kill -0 "$p" 2>/dev/null || lab_die "vblade $p exited: $(tail -n 2 "$LAB_DIR"/vblade*.log)"
      sleep 0.05
    done
  done
}

lab_shelf_pids() { echo "${LAB_SHELF_PIDS[$1]:-}"; }

lab_kill() {
  local p
  for p in ${LAB_SHELF_PIDS[$1]:-}; do
    kill -CONT "$p" 2>/dev/null || true
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  LAB_SHELF_PIDS[$1]=
}

lab_freeze() { local p; for p in ${LAB_SHELF_PIDS[$1]:-}; do kill -STOP "$p" || lab_die "freeze $1"; done; }
lab_thaw()   { local p; for p in ${LAB_SHELF_PIDS[$1]:-}; do kill -CONT "$p" || lab_die "thaw $1"; done; }
# lab_switch_ports up|down: every port of the switch (the initiator's and each shelf's), as
# a switch rebooting or an uplink pulled: the shelves and nbdkit keep running.
lab_switch_ports() {
  local i
  ip -n "$LAB_PREFIX-san" link set h0-br "$1"
  for i in $(seq 1 "$LAB_N"); do ip -n "$LAB_PREFIX-san" link set "s$i-0" "$1"; done
}

lab_impostor() {
  local i=$1 size=$2 shelf=${3:-$1} slot=${4:-1} ns="$LAB_PREFIX-imp$1"
  lab_netns_add "$ns"
  lab_link "$ns" eth0 "imp$i" br0
  truncate -s "$size" "$LAB_DIR/impostor$i.img"
  ip netns exec "$ns" vblade "$shelf" "$slot" eth0 "$LAB_DIR/impostor$i.img" \
    >>"$LAB_DIR/impostor$i.log" 2>&1 &
  lab_track $!
  lab_wait_vblade $!      # as lab_start: a query sent before it holds its socket goes unanswered
}

# Impair the initiator's link(s).  The kernel has no sch_netem, so a relay (lab-netem)
# takes the initiator's bridge port off the bridge and forwards its frames through a new
# veth pair, losing, delaying, reordering and duplicating them as netem would.  Counters of
# what it did accumulate in $LAB_DIR/netem.stats when it stops (lab_netem_clear, cleanup).
LAB_NETEM_PIDS=
lab_netem() {
  local p san="$LAB_PREFIX-san"
  lab_netem_clear
  for p in $(seq 0 $((LAB_PATHS - 1))); do
    ip -n "$san" link set "h$p-br" nomaster
    ip -n "$san" link add "h$p-q" mtu "$LAB_MTU" type veth peer name "h$p-qb" mtu "$LAB_MTU"
    ip -n "$san" link set "h$p-qb" master "br$p" up
    ip -n "$san" link set "h$p-q" up
    rm -f "$LAB_DIR/netem$p.ready"
    LAB_NETEM_STATS="$LAB_DIR/netem.stats" LAB_NETEM_READY="$LAB_DIR/netem$p.ready" \
      ip netns exec "$san" lab-netem "h$p-br" "h$p-q" "$@" 2>>"$LAB_DIR/netem.log" &
    lab_track $!
    LAB_NETEM_PIDS="$LAB_NETEM_PIDS $!"
  done
  # Until a relay has its ports open, frames meet a detached link and vanish: wait for
  # each to say it is ready (a fixed 0.2 s was too short on a loaded machine).
  for p in $(seq 0 $((LAB_PATHS - 1))); do
    for _ in $(seq 300); do [ -e "$LAB_DIR/netem$p.ready" ] && break; sleep 0.1; done
  done
  for p in $LAB_NETEM_PIDS; do kill -0 "$p" 2>/dev/null || lab_die "lab-netem $*: $(tail -n1 "$LAB_DIR/netem.log")"; done
  for p in $(seq 0 $((LAB_PATHS - 1))); do
    [ -e "$LAB_DIR/netem$p.ready" ] || lab_die "lab-netem $*: relay of path $p not ready within 30 s"
  done
}
lab_netem_clear() {
  local p san="$LAB_PREFIX-san"
  [ -n "$LAB_NETEM_PIDS" ] || return 0
  for p in $LAB_NETEM_PIDS; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  LAB_NETEM_PIDS=
  for p in $(seq 0 $((LAB_PATHS - 1))); do
    ip -n "$san" link del "h$p-q" 2>/dev/null || true
    ip -n "$san" link set "h$p-br" master "br$p"
  done
  return 0
}

lab_host2() {
  LAB_NS2="$LAB_PREFIX-host2"
  lab_netns_add "$LAB_NS2"
  lab_link "$LAB_NS2" h0 h0b-br br0
}

lab_host_mac() {
  ip -n "${2:-$LAB_NS}" -o link show "${1:-h0}" | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p'
}

lab_exec() { ip netns exec "$LAB_NS" "$@"; }

lab_bg() {
  local var=$1; shift
  ip netns exec "$LAB_NS" "$@" &
  lab_track $!
  printf -v "$var" '%s' "$!"
}
