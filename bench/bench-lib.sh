# bench/bench-lib.sh: shared by bench/run and bench/ab (source after tests/plugin-lib.sh).
#   wait_in_sync CTL LIMIT_S   `aoeraid wait -c CTL` until no initial resync runs
#                              (a new mirror or parity array resyncs in the background
#                              while it serves, as md does; figures taken meanwhile
#                              measure the resync, not the data path).  Prints the
#                              seconds it waited; returns 1 if LIMIT_S passed first.

wait_in_sync() {
  local ctl=$1 limit=$2 t0
  t0=$(date +%s.%N)
  "$top_builddir/aoeraid" wait -c "$ctl" -t "$limit" >&2 || return 1
  awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", now - t0 }'
}
