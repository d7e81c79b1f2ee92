# tests/plugin-lib.sh: run nbdkit-aoeraid-plugin inside the lab (source after tests/lab.sh).
#   plugin_run ARGS... -- RUN_COMMAND   nbdkit -U - aoeraid iface=h0 ARGS --run RUN_COMMAND,
#                                       in the initiator netns; $uri, $unixsocket as nbdkit sets
#   plugin_start SOCK ARGS...           a server in the background on SOCK (waits until it
#                                       listens; its log: $LAB_DIR/nbdkit.log); with
#                                       PLUGIN_SOFT=1 a failure returns 1 instead of lab_die
#   plugin_stop                         stop it by PID, wait until it is gone
#   plugin_fails "what" 'regex' ARGS... the server must refuse with a line matching regex
#   wait_log 'regex' "what" [LOG]       poll LOG (nbdkit.log) (60 s at most) for a line
#                                       matching regex, else lab_die "what" with its tail
#   head1 ARGS... / head2 ARGS...       two heads on one SAN (after lab_host2 and
#                                       heads_init): head 1 in LAB_NS, head 2 in LAB_NS2,
#                                       each its own socket, control socket and log;
#                                       $pid1 / $pid2, $mac1 / $mac2, $uri1 / $uri2
#   head_serves N                       head N (1 or 2) serves now: $ctl and $uri are its,
#                                       and its log says its resync finished
#   fresh_data NAME URI                 8 MiB of new random data ($LAB_DIR/NAME) written
#                                       through URI; $want: their md5
AOERAID_PLUGIN=${AOERAID_PLUGIN:-$top_builddir/.libs/nbdkit-aoeraid-plugin.so}
[ -f "$AOERAID_PLUGIN" ] || lab_die "plugin not built: $AOERAID_PLUGIN"
command -v nbdkit >/dev/null || lab_die "nbdkit not found: run scripts/install-deps"

plugin_run() {
  local args=() cmd
  while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  cmd=$1
  lab_exec nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=2 "${args[@]}" --run "$cmd"
}

PLUGIN_PID=
# nbdkit stays in the foreground (-f), as our child: everything it logs, also from its
# background threads after start-up, lands in $LAB_DIR/nbdkit.log, and it is reaped when
# stopped.  It is ready once its socket exists (bound after the plugin's get_ready).
# PLUGIN_NS (default LAB_NS) and PLUGIN_LOG (default $LAB_DIR/nbdkit.log) run it elsewhere:
# a second head in LAB_NS2.
plugin_start() {
  local sock=$1; shift
  local pidfile="$LAB_DIR/nbdkit.pid" log=${PLUGIN_LOG:-$LAB_DIR/nbdkit.log}
  rm -f "$pidfile" "$sock"
  PLUGIN_SOCK=$sock
  # Not through the lab_exec function: in the background that would be a bash subshell,
  # and $! its PID, which plugin_stop would kill leaving nbdkit running.  `ip netns exec`
  # execs nbdkit, so $! is nbdkit's own PID.
  # shellcheck disable=SC2086 # AOERAID_NBDKIT_OPTS: nbdkit's own options, split
  ip netns exec "${PLUGIN_NS:-$LAB_NS}" nbdkit -f -U "$sock" -P "$pidfile" \
    ${AOERAID_NBDKIT_OPTS:-} "$AOERAID_PLUGIN" iface=h0 \
    discover-time=2 "$@" 2>>"$log" &
  PLUGIN_PID=$!
  lab_track "$PLUGIN_PID"
  for _ in $(seq 1200); do
    [ -S "$sock" ] && return 0
    if ! lab_alive "$PLUGIN_PID"; then
      wait "$PLUGIN_PID" 2>/dev/null || true
      PLUGIN_PID=
      plugin_start_failed "nbdkit failed: $(tail -n 3 "$log")"
      return 1
    fi
    sleep 0.05
  done
  plugin_start_failed "nbdkit did not listen on $sock within 60 s: $(tail -n 3 "$log")"
}

# Not in a subshell, for a caller that goes on after a failure (bench/run): an nbdkit
# started in a subshell was sent SIGTERM when that subshell ended, here.
plugin_start_failed() {
  [ "${PLUGIN_SOFT:-0}" = 1 ] || lab_die "$1"
  lab_log "$1"
}

plugin_stop() {
  [ -n "$PLUGIN_PID" ] || return 0
  kill -TERM "$PLUGIN_PID" 2>/dev/null || true
  for _ in $(seq 300); do lab_alive "$PLUGIN_PID" || break; sleep 0.1; done
  lab_alive "$PLUGIN_PID" && lab_die "nbdkit $PLUGIN_PID did not stop"
  wait "$PLUGIN_PID" 2>/dev/null || true
  rm -f "$PLUGIN_SOCK"
  PLUGIN_PID=
}

plugin_fails() {
  local what=$1 regex=$2 out rc
  shift 2
  set +e
  out=$(lab_exec nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 "$@" --run true 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] || lab_die "$what: nbdkit accepted it: $out"
  echo "$out" | grep >/dev/null -E "$regex" || lab_die "$what: expected an error matching '$regex', got: $out"
  echo "ok: $what: $(echo "$out" | grep -E "$regex" | head -n 1)"
}

# A checksum of every shelf's backing file (or of shelves I...): proves a refusal wrote
# nothing.  A CRC, not an md5: a write that is no attack goes unseen once in 2^32, and
# cksum (coreutils 9) runs at memory speed where md5sum took 0.5 s a 64 MiB shelf; one
# process for all the files, not two a shelf: tests sum every shelf before and after each
# refusal, which cost seconds a test.
shelves_sum() {
  local i files=()
  for i in ${*:-$(seq 1 "$LAB_N")}; do files+=("${LAB_IMG[$i]}"); done
  cksum "${files[@]}"
}

wait_log() {
  local log=${3:-$LAB_DIR/nbdkit.log}
  # generous: a resync or a shelf's return takes far longer when another test's qemu VM
  # holds a CPU; the line usually comes at once, and the test's watchdog bounds the run
  for _ in $(seq 600); do grep -Eq "$1" "$log" && return 0; sleep 0.1; done
  lab_die "$2: no line '$1' in $log: $(tail -n 3 "$log")"
}

# Two heads (two initiators, each its own MAC) on one SAN: the failover tests.
heads_init() {
  mac1=$(lab_host_mac h0)
  mac2=$(lab_host_mac h0 "$LAB_NS2")
  sock1=$LAB_DIR/h1.sock ctl1=$LAB_DIR/h1.ctl log1=$LAB_DIR/h1.log
  sock2=$LAB_DIR/h2.sock ctl2=$LAB_DIR/h2.ctl log2=$LAB_DIR/h2.log
  uri1="nbd+unix:///?socket=$sock1" uri2="nbd+unix:///?socket=$sock2"
}
head1() { PLUGIN_LOG=$log1 plugin_start "$sock1" control="$ctl1" "$@"; pid1=$PLUGIN_PID; }
head2() {
  PLUGIN_NS=$LAB_NS2 PLUGIN_LOG=$log2 plugin_start "$sock2" control="$ctl2" "$@"
  pid2=$PLUGIN_PID
}
head_serves() {
  local head_log=$log2
  ctl=$ctl2 uri=$uri2
  if [ "$1" = 1 ]; then ctl=$ctl1 uri=$uri1 head_log=$log1; fi
  wait_log "resync finished" "head $1" "$head_log"
}
fresh_data() {
  head -c 8M /dev/urandom >"$LAB_DIR/$1"
  nbdcopy --flush "$LAB_DIR/$1" "$2"
  want=$(md5sum <"$LAB_DIR/$1")
}

# fio_verify URI NAME FIO-OPTION...: fio's nbd engine, random reads and writes checked with
# crc32c (the options give sizes and depths); dies naming NAME when a block reads back wrong.
fio_verify() {
  local uri=$1 name=$2; shift 2
  fio --name="$name" --ioengine=nbd --uri="$uri" --rw=randrw --verify=crc32c --verify_fatal=1 \
      --do_verify=1 --group_reporting "$@" --output="$LAB_DIR/$name.out" >/dev/null 2>&1 ||
    { cat "$LAB_DIR/$name.out"; lab_die "$name: fio randrw verify failed"; }
  grep -q 'err= 0' "$LAB_DIR/$name.out" || { cat "$LAB_DIR/$name.out"; lab_die "$name: fio reported errors"; }
}
