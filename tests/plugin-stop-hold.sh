#!/usr/bin/env bash
# nbdkit stopped (SIGTERM, systemctl stop) while shelves are held stops at once, and records
# no failure (nbdkit waits for the requests in flight before .cleanup: the stop took
# hold-time, then the held I/O failing failed the held shelves in the other superblocks):
#  - raid1 of 2, dead-time=1s, hold-time=120s, a writer under way: every port of the switch
#    goes down; one shelf is declared down at its dead time, the other held, the writes
#    wait.  SIGTERM: nbdkit is gone within 40 s, one line saying 'stopping during a hold:
#    N held request(s) ended with EIO; eX.1 not marked failed'; the switch back, examine
#    shows no member faulty, a start without force assembles both, and every write
#    acknowledged before reads back;
#  - raid0 of 2 (e3.1, e4.1): only e4.1's port goes down, e4.1 held while e3.1 answers:
#    the stop records nothing on e3.1 (failing e4.1 there left a failed raid0: force).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 170
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
log=$LAB_DIR/nbdkit.log
san=$LAB_PREFIX-san

# SIGTERM while a shelf is held (hold-time=120): nbdkit must be gone within 40 s, its line
# naming the held shelf (matching $1) and at least one request it cut short.
stop_during_hold() {
  local t0=$SECONDS line
  kill -TERM "$PLUGIN_PID"
  timeout 40 tail --pid="$PLUGIN_PID" -f /dev/null ||
    lab_die "nbdkit still runs 40 s after SIGTERM during a hold: $(tail -n 5 "$log")"
  wait "$PLUGIN_PID" 2>/dev/null || true
  PLUGIN_PID=
  rm -f "$sock"
  echo "ok: nbdkit gone $((SECONDS - t0)) s after SIGTERM during the hold"
  line=$(grep -E "stopping during a hold: [0-9]+ held request\(s\) ended with EIO; $1 not marked failed \(the next start judges it\)" "$log") ||
    lab_die "no line says the stop during the hold: $(tail -n 8 "$log")"
  grep -q "hold: 0 held" <<<"$line" && lab_die "no request was held: $line"
  echo "ok: $line"
  sed -n '/stopping during a hold/,$p' "$log" | sed 's/^/  log: /'
}

# SHELVES answer a Query Config again: a port just set up may miss the first broadcast
# (vblade's sends failed with ENOBUFS while it was down), and examine asks only once.
answering_again() {
  local try shelf got
  for try in $(seq 20); do
    got=$(lab_exec lab-query h0 500 | awk '{print $1}' | tr '\n' ' ')
    for shelf in "$@"; do [[ " $got" == *" $shelf "* ]] || continue 2; done
    return 0
  done
  lab_die "$* do not answer again after the switch came back (heard: $got)"
}

# The writer ended with the server; no superblock of SHELVES records a member failed.
nothing_failed() {
  local what=$1
  shift
  wait "$writer_pid" || lab_die "$what: the writer failed: $(cat "$LAB_DIR/writer.out")"
  echo "writer: $(tail -n 1 "$LAB_DIR/writer.out")"
  answering_again "$@"
  examine_to "$LAB_DIR/ex.txt" "$@"
  ! grep -q faulty "$LAB_DIR/ex.txt" || lab_die "$what: a member recorded failed: $(cat "$LAB_DIR/ex.txt")"
  echo "ok: $what: no member recorded failed"
}

# A start without force takes every shelf, and every acknowledged write reads back.
plain_start_reads_back() {
  local what=$1
  shift
  : >"$log"
  plugin_start "$sock" shelves="$1" control="$ctl"
  wait_clean "$what: the restart"
  status | grep -Eq "^ +1 +$2 +active" || lab_die "$what: $2 not back in its slot: $(status)"
  verify_blocks "$what: an acknowledged write is lost"
  echo "ok: $what: started without force, every acknowledged write reads back"
  plugin_stop
}

# ---- raid1 of 2: the whole switch away ------------------------------------------------------
plugin_start "$sock" shelves=e1.1,e2.1 level=1 dead-time=1 hold-time=120 control="$ctl"
wait_clean "the new raid1"
writer_start 16
lab_switch_ports down
wait_log "aoe: e[12]\.1: .*cannot do without it: held" "no shelf was held"
stop_during_hold "e[12]\.1"
lab_switch_ports up
nothing_failed "raid1" e1.1 e2.1
plain_start_reads_back "raid1" e1.1,e2.1 e2.1

# ---- raid0 of 2: one shelf away, the other answering ------------------------------------------
plugin_start "$sock" shelves=e3.1,e4.1 level=0 dead-time=1 hold-time=120 control="$ctl"
writer_start 16
ip -n "$san" link set s4-0 down
wait_log "aoe: e4\.1: .*cannot do without it: held" "e4.1 was not held"
stop_during_hold "e4\.1"
ip -n "$san" link set s4-0 up
nothing_failed "raid0" e3.1 e4.1
plain_start_reads_back "raid0" e3.1,e4.1 e4.1
echo "plugin-stop-hold: passed"
