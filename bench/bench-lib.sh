# bench/bench-lib.sh: shared by bench/run and bench/ab (source after tests/plugin-lib.sh).
#   wait_in_sync CTL LIMIT_S   poll `aoeraid status -c CTL` until no initial resync runs
#                              (a new mirror or parity array resyncs in the background
#                              while it serves, as md does; figures taken meanwhile
#                              measure the resync, not the data path).  Prints the
#                              seconds it waited; returns 1 if LIMIT_S passed first.

wait_in_sync() {
  local ctl=$1 limit=$2 t0 out
  t0=$(date +%s.%N)
  while :; do
    out=$("$top_builddir/aoeraid" status -c "$ctl" 2>&1) || { echo "$out" >&2; return 1; }
    grep -q '^  resync ' <<<"$out" || break
    awk -v t0="$t0" -v l="$limit" -v now="$(date +%s.%N)" 'BEGIN { exit !(now - t0 > l) }' &&
      return 1
    sleep 0.2
  done
  awk -v t0="$t0" -v now="$(date +%s.%N)" 'BEGIN { printf "%.1f\n", now - t0 }'
}
