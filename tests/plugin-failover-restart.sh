#!/usr/bin/env bash
# Failover, then a shelf restart: the reservations must hold across it.  vblade keeps its
# reservation list in memory only: restarted, a shelf is open to every host.  RAID5 of
# e1.1..e3.1.
#   Head 1 serves and writes; a client connected to it has just written region 0 (its
#   bitmap bit stays dirty in head 1's memory, so its next write there needs no bitmap
#   update: full stripes go straight to the three shelves).  Head 1 hangs (SIGSTOP) with
#   the client's next write (1 MiB of 'x' at 0) queued on its socket.  Head 2 takes over
#   with takeover=true and writes.  e1.1's vblade is restarted (same file, same address),
#   quickly: head 2's keepalives never see it down.  Head 1 resumes and serves the queued
#   write.
# Head 2 must have taken e1.1 back at once (vblade announces itself when it starts): e1.1
# refuses head 1 like the other shelves do, head 1 is fenced and the write fails, no byte
# of it lands (head 2 reads its own data back and a check finds no mismatch), and head 2
# holds all three reservations and still serves.
# Then inside the window (phase 2): the new head hangs too, the old one resumes first; it
# must see it was stopped and read its reservations before any I/O.
# e2.1 and e3.1 are frozen (SIGSTOP) for 1.5 s across each resume, so that their refusals
# cannot come before what the old head sends e1.1: without the fix that lands there, every
# time (head 2 reads head 1's bytes back; phase 2: e1.1's image changes).  Unfrozen it is
# a race (3 of 5 runs landed here).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 32M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
lab_host2
heads_init
rebuild_data 8M 1M
args=(shelves=e1.1,e2.1,e3.1 level=5 chunk=64K bitmap-chunk=1M name=vol)

# wait_file FILE WHAT OUT: until FILE exists, else lab_die WHAT with OUT's content.
wait_file() {
  for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done
  lab_die "$2: $(cat "$3")"
}
# The reservation list of shelf I, as any host reads it.
holders() { lab_exec aoe-client -i h0 -w 3000 "$1.1" holders 2>/dev/null | sed -n 's/^holders: *//p'; }

# client URI TAG: a client of the head at URI writes region 0, says so ($LAB_DIR/TAG.ready),
# then once told ($LAB_DIR/TAG.go) writes it again; how that went: $LAB_DIR/TAG.out.
client() {
  nbdsh -u "$1" -c "
import os, time
h.pwrite(b'a' * (1 << 20), 0)
h.flush()
open('$LAB_DIR/$2.ready', 'w').close()
while not os.path.exists('$LAB_DIR/$2.go'):
    time.sleep(0.02)
try:
    h.pwrite(b'x' * (1 << 20), 0)
    h.flush()
    print('written')
except Exception as e:
    print('failed:', e)
" >"$LAB_DIR/$2.out" 2>&1 &
  client_pid=$!
  lab_track "$client_pid"
  wait_file "$LAB_DIR/$2.ready" "the client did not write" "$LAB_DIR/$2.out"
}

head1 "${args[@]}"
nbdcopy --flush "$LAB_DIR/want" "$uri1"
client "$uri1" c1
client=$client_pid
kill -STOP "$pid1"
touch "$LAB_DIR/c1.go"          # its write now waits on head 1's socket
echo "ok: head 1 hung with a write queued"

head2 "${args[@]}" takeover=true
head_serves 2
fresh_data want2 "$uri2"
for i in 1 2 3; do
  [ "$(holders $i)" = "$mac2" ] || lab_die "e$i.1 is not held by head 2 after the takeover: $(holders $i)"
done
echo "ok: head 2 took over with takeover=true and wrote"

t0=$(date +%s%3N)
lab_kill 1
lab_start 1
echo "ok: e1.1's vblade restarted in $(( $(date +%s%3N) - t0 )) ms"
# Head 2 re-asserts at its announce (or, were that lost, at its next reservation read, a
# keepalive interval later).  Not holding it in time is judged below, after head 1's write:
# the damage is the point.
for _ in 1 2 3; do [ "$(holders 1)" = "$mac2" ] && break; done
echo "ok: e1.1 held by '$(holders 1)' $(( $(date +%s%3N) - t0 )) ms after the restart"

# e2.1 and e3.1 frozen across the resume, as in phase 2: their refusals cannot come first.
lab_freeze 2
lab_freeze 3
kill -CONT "$pid1"
sleep 1.5
lab_thaw 2
lab_thaw 3
wait "$client" || true
out=$(cat "$LAB_DIR/c1.out")
grep -q "^failed" <<<"$out" || lab_die "head 1's queued write succeeded after the takeover: $out"
wait_log "e[0-9]\.1 is now reserved by $mac2: another head took the array over" "head 1" "$log1"
ctl=$ctl1 wait_status "fenced: e[0-9].1 is reserved by another head"
echo "ok: head 1 resumed: its write failed, fenced: $(grep -o 'e[0-9]\.1 is now reserved by [0-9a-f:]*' "$log1")"

ctl=$ctl2
[ "$(readback)" = "$want" ] ||
  lab_die "head 2 reads back other data than it wrote: head 1's write landed on a shelf"
out=$("$aoeraid" check -c "$ctl2") || lab_die "aoeraid check: $out"
wait_status "last check complete at 100.0%: mismatches 0 "
grep -q "fenced" <<<"$(status)" && lab_die "head 2 fenced itself: $(status)"
for i in 1 2 3; do
  h=$(holders $i)
  [ "$h" = "$mac2" ] || lab_die "e$i.1 is held by '$h', not head 2 ($mac2), after the restart"
done
grep "e1\.1" "$log2" | grep -i "reserv" || true
echo "ok: head 2 holds e1.1..e3.1, serves its data intact, a check finds no mismatch"
PLUGIN_PID=$pid1 PLUGIN_SOCK=$sock1 plugin_stop

# ---- 2. inside the window: the new head hangs too, so it cannot re-assert first ----
# Head 2 hangs with a write queued; head 1 takes over and writes, then hangs as well; e1.1
# restarts (its announce waits in head 1's socket); head 2 resumes.  It did not run for
# seconds: it must read its reservations before any I/O.  e1.1 lists nobody, e2.1 and
# e3.1 (frozen for 1.5 s across the resume, so they answer late) name head 1: fenced, and
# not a byte to e1.1 (nobody else can write it now: its image must not change).  Head 1
# resumes and takes e1.1 back at the announce.
client "$uri2" c2
client=$client_pid
kill -STOP "$pid2"
touch "$LAB_DIR/c2.go"
: >"$log1"
head1 "${args[@]}" takeover=true
head_serves 1
fresh_data want3 "$uri1"
kill -STOP "$pid1"
echo "ok: head 2 hung with a write queued, head 1 took over and wrote, then hung too"
lab_kill 1
lab_start 1
img1=$(md5sum <"${LAB_IMG[1]}")
[ -z "$(holders 1)" ] || lab_die "e1.1 restarted holds a reservation: $(holders 1)"
# e2.1 and e3.1 frozen across the resume: their refusals cannot come before what head 2
# sends e1.1 (deterministic: without the wait for its reads, head 2's write lands there).
lab_freeze 2
lab_freeze 3
kill -CONT "$pid2"
sleep 1.5
[ "$(md5sum <"${LAB_IMG[1]}")" = "$img1" ] ||
  lab_die "head 2 wrote to e1.1, restarted and unreserved, before anything refused it"
lab_thaw 2
lab_thaw 3
wait "$client" || true
out=$(cat "$LAB_DIR/c2.out")
grep -q "^failed" <<<"$out" || lab_die "head 2's queued write succeeded after the takeover: $out"
wait_log "e[0-9]\.1 is now reserved by $mac1: another head took the array over" "head 2" "$log2"
sleep 0.5
[ "$(md5sum <"${LAB_IMG[1]}")" = "$img1" ] ||
  lab_die "head 2 wrote to e1.1, restarted and unreserved, after the takeover"
grep -q "did not run for" "$log2" || lab_die "head 2 did not see that it had been stopped"
echo "ok: head 2 resumed inside the window: its write failed, fenced, e1.1 untouched"
kill -CONT "$pid1"
for _ in $(seq 300); do [ "$(holders 1)" = "$mac1" ] && break; sleep 0.1; done
for i in 1 2 3; do
  h=$(holders $i)
  [ "$h" = "$mac1" ] || lab_die "e$i.1 is held by '$h', not head 1 ($mac1)"
done
[ "$(readback)" = "$want" ] || lab_die "head 1 reads back other data than it wrote"
out=$("$aoeraid" check -c "$ctl1") || lab_die "aoeraid check: $out"
wait_status "last check complete at 100.0%: mismatches 0 "
echo "ok: head 1 resumed, holds e1.1..e3.1 again, its data intact, a check finds no mismatch"
PLUGIN_PID=$pid2 PLUGIN_SOCK=$sock2 plugin_stop
PLUGIN_PID=$pid1 PLUGIN_SOCK=$sock1 plugin_stop
echo "plugin-failover-restart: passed"
