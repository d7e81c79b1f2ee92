#!/usr/bin/env bash
# The write hole, made on real shelves, and the partial parity log closing it (md's
# consistency policy ppl).  RAID5 of four shelves, chunk 64K: stripe 0 holds data
# columns on the first, second and third shelf and its parity on the fourth.  The first
# shelf is frozen (SIGSTOP) and 4 KiB are written to its column: the parity reaches the
# fourth shelf, the data waits in the frozen shelf's socket.  Then the host dies
# (nbdkit SIGKILL) and the frozen shelf loses power (SIGKILL: the frames it had not
# read are gone), comes back with its old bytes, and the second shelf dies.  The array
# starts dirty and degraded; the second column, which no write touched, is rebuilt
# through the torn stripe's parity.
#   Without the log (consistency-policy=bitmap, started with force: md refuses it
#   otherwise) that column comes back wrong: the test proves its tear is real.
#   With the log the start needs no force, the log is replayed, and it comes back right.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 8 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 8M 4K
log=$LAB_DIR/nbdkit.log
# the data offset: 1 MiB and 8 chunks of room for grows (params.c)
data_at=$(( (1024 + 8 * 64) * 1024 ))

# A shelf's vblade loses power: SIGKILL even while stopped, nothing it queued is served.
power_off() {
  local p
  for p in $(lab_shelf_pids "$1"); do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  LAB_SHELF_PIDS[$1]=
}
# Shelves with nothing on them: their vblade stopped, the file emptied, started again.
blank_shelves() {
  local i
  for i in "$@"; do
    lab_kill "$i"
    truncate -s 0 "${LAB_IMG[$i]}"
    truncate -s 32M "${LAB_IMG[$i]}"
    lab_start "$i"
  done
}
host_dies() {
  kill -KILL "$PLUGIN_PID"
  wait "$PLUGIN_PID" 2>/dev/null || true
  PLUGIN_PID=
}
# bytes [off, off+len) of shelf i's backing file
shelf_bytes() { dd if="${LAB_IMG[$1]}" bs=4096 skip=$(( $2 / 4096 )) count=$(( $3 / 4096 )) status=none | md5sum; }
# bytes [off, off+len) of the array
array_bytes() {
  nbdsh -u "$uri" -c "import sys; sys.stdout.buffer.write(h.pread($2, $1))" | md5sum
}

# tear B POLICY: on shelves B..B+3, a torn write to stripe 0, column 0; the host and
# shelf B die; shelf B comes back, shelf B+1 dies.  $out: what column 1 reads as now.
tear() {
  local b=$1 policy=$2 shelves parity_before data_before bg
  shelves=e$b.1,e$((b + 1)).1,e$((b + 2)).1,e$((b + 3)).1
  : >"$log"
  plugin_start "$sock" shelves=$shelves level=5 chunk=64K consistency-policy=$policy \
    control=$ctl dead-time=60
  wait_log "resync finished" "initial resync of the $policy array"
  nbdcopy --flush "$LAB_DIR/data" "$uri"
  parity_before=$(shelf_bytes $((b + 3)) "$data_at" 4096)
  data_before=$(shelf_bytes "$b" "$data_at" 4096)
  lab_freeze "$b"
  nbdsh -u "$uri" -c "h.pwrite(open('$LAB_DIR/more', 'rb').read(), 0)" >/dev/null 2>&1 &
  bg=$!
  lab_track "$bg"
  for _ in $(seq 600); do
    [ "$(shelf_bytes $((b + 3)) "$data_at" 4096)" != "$parity_before" ] && break
    sleep 0.05
  done
  [ "$(shelf_bytes $((b + 3)) "$data_at" 4096)" != "$parity_before" ] ||
    lab_die "$policy: the parity of stripe 0 never reached e$((b + 3)).1: $(status)"
  host_dies
  power_off "$b"
  kill "$bg" 2>/dev/null || true
  wait "$bg" 2>/dev/null || true
  [ "$(shelf_bytes "$b" "$data_at" 4096)" = "$data_before" ] ||
    lab_die "$policy: the frozen shelf took the write: no tear"
  echo "ok: $policy: stripe 0 torn: new parity on e$((b + 3)).1, old data on e$b.1"
  lab_start "$b"
  lab_kill $((b + 1))
  : >"$log"
  if [ "$policy" = ppl ]; then
    plugin_start "$sock" shelves=$shelves control=$ctl
  else
    plugin_start "$sock" shelves=$shelves control=$ctl force=true
  fi
  out=$(array_bytes $((64 * 1024)) $((64 * 1024)))
  want_col1=$(dd if="$LAB_DIR/data" bs=64K skip=1 count=1 status=none | md5sum)
}

tear 1 bitmap
[ "$out" != "$want_col1" ] ||
  lab_die "without the log the untouched column came back right: the test made no write hole"
grep -q "starting dirty and degraded (force)" "$log" || lab_die "no force warning: $(cat "$log")"
plugin_stop
echo "ok: without the log, a column no write touched came back wrong (the write hole)"
# stopped cleanly, but the resync after the crash never ran (degraded): the superblocks say
# clean and mark that resync, so a degraded start still wants force (md: recovery_cp)
plugin_fails "degraded, the resync after the crash not run" \
  "is degraded \(slot 1 missing\) and its resync after a crash did not end .*force=true" \
  shelves=e1.1,e2.1,e3.1,e4.1
# md's --grow --consistency-policy=ppl at a start: not while the resync the crash left is
# still to run (this array is degraded: it cannot run), the log would not know its stripes
plugin_fails "ppl over a pending resync" "a resync is still to run" \
  shelves=e1.1,e2.1,e3.1,e4.1 consistency-policy=ppl force=true
# on a whole array whose resync ended: the room for grows holds the ring
blank_shelves 1 2 3 4
: >"$log"
plugin_start "$sock" shelves=e1.1,e2.1,e3.1,e4.1 level=5 chunk=64K consistency-policy=bitmap \
  control=$ctl
wait_log "resync finished" "initial resync of the bitmap array"
# md's --grow --consistency-policy on the running array, both ways
ctl_ok grow consistency-policy=ppl
# the answer says what the log spares, and what it does not (the resync after a crash)
grep -q "a dirty degraded start needs no force, but one before the resync after a crash ended still needs force=true$" <<<"$out" ||
  lab_die "grow consistency-policy=ppl answered: $out"
status | grep -q "consistency policy ppl (a 1472K partial parity log" || lab_die "live: $(status)"
ctl_ok grow consistency-policy=bitmap
status | grep -q "consistency policy bitmap" || lab_die "policy not dropped: $(status)"
# again: no log to drop, and the answer says so (it said "the partial parity log is dropped")
ctl_ok grow consistency-policy=resync
grep -q "^the array keeps no partial parity log: nothing changed" <<<"$out" ||
  lab_die "grow consistency-policy=resync without a log answered: $out"
out=$("$aoeraid" grow -c "$ctl" consistency-policy=journal 2>&1) && lab_die "journal taken: $out"
grep -q "'journal' is no consistency policy" <<<"$out" || lab_die "journal refused with: $out"
plugin_stop
plugin_start "$sock" shelves=e1.1,e2.1,e3.1,e4.1 control=$ctl consistency-policy=ppl
status | grep -q "consistency policy ppl (a 1472K partial parity log" || lab_die "switch: $(status)"
plugin_stop
plugin_start "$sock" shelves=e1.1,e2.1,e3.1,e4.1 control=$ctl
status | grep -q "consistency policy ppl" || lab_die "a restart dropped the policy: $(status)"
plugin_stop
echo "ok: an array started with consistency-policy=ppl keeps it"
plugin_fails "no such policy" "'journal' is no consistency policy" shelves=e1.1,e2.1,e3.1 \
  level=5 consistency-policy=journal
plugin_fails "ppl on raid6" "level=6; the partial parity log is for raid5 only" \
  shelves=e1.1,e2.1,e3.1,e4.1 level=6 consistency-policy=ppl

tear 5 ppl
[ "$out" = "$want_col1" ] || lab_die "with the log, the untouched column came back wrong"
# the torn stripe, and the last record of a stripe nbdcopy's parallel requests shared
# when it left the missing column alone (timing: 1 or 2 of them)
grep -Eq "partial parity log replayed: the parity of [0-9]+ stripes? made again" "$log" ||
  lab_die "no replay logged: $(cat "$log")"
status | grep -q "consistency policy ppl" || lab_die "status: $(status)"
# everything past the torn 4 KiB reads as written
[ "$(array_bytes 4096 $((8 * 1024 * 1024 - 4096)))" = "$(tail -c +4097 "$LAB_DIR/data" | md5sum)" ] ||
  lab_die "with the log, bytes past the torn write differ"
# dropped on the running array, the log is not taken back while the crash's resync waits
# (degraded, it cannot run)
ctl_ok grow consistency-policy=bitmap
out=$("$aoeraid" grow -c "$ctl" consistency-policy=ppl 2>&1) && lab_die "ppl over a resync: $out"
grep -q "a resync is still to run" <<<"$out" || lab_die "ppl over a resync refused with: $out"
plugin_stop
echo "ok: with the log: started dirty and degraded without force, every byte no write touched right"
echo "plugin-ppl: passed"
