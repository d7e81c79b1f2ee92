#!/usr/bin/env bash
# A shelf address that moves to another MAC (its vblade restarted on another NIC, an
# EtherDrive failing over to its second port) goes on answering through its new path: the
# old MAC's path goes down once and, silent for AOE_PATH_DROP_DEAD_TIMES (3) dead times, is
# dropped; the shelf, which we reserved, is never declared down; I/O running across the
# move all succeeds, its data right.  Query Config replies forged for e1.1 from made-up MACs
# leave the real path alone, and their paths, never identified, are dropped the same way.
# The address moving back to its first MAC finds that path again as a new one.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150

lab_up -n 1 -s 16M
# The move leaves e1.1 silent from its vblade's kill until the new one answers: 2 s, so that
# a loaded machine slow to start vblade does not see it declared down (1 s could).
dead=2000
s1="$LAB_PREFIX-s1"
# The shelf's second NIC, on the same bridge: the address moves there and back.
lab_link "$s1" eth1 s1-1 br0
mac_of() { ip -n "$s1" link show "$1" | awk '/link\/ether/ {print $2}'; }
mac0=$(mac_of eth0) mac1=$(mac_of eth1)
out="$LAB_DIR/c.out"

wait_file() {
  for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done
  lab_die "$2: $(cat "$out")"
}
# Move e1.1 to NIC $1: its vblade killed, one started on the same file there.
move_to() {
  lab_kill 1
  ip netns exec "$s1" vblade 1 1 "$1" "${LAB_IMG[1]}" >>"$LAB_DIR/vblade1.log" 2>&1 &
  LAB_SHELF_PIDS[1]=$!
  lab_wait_vblade $!
}
# Until N lines of $out match REGEX (10 dead times at most), then create FILE: the client's
# phase ends once the path it waits for is dropped (3 dead times after its silence began).
drop_seen() {
  local regex=$1 n=$2 file=$3
  for _ in $(seq $((dead / 5))); do
    [ "$(grep -c -E "$regex" "$out")" -ge "$n" ] && { : >"$file"; return 0; }
    sleep 0.05
  done
  lab_die "no '$regex' within $((dead / 100)) s: $(grep -v '^tx ' "$out" | tail -n 5)"
}
# Each phase streams 6 s (across the move, and the forged replies), waits until the test
# saw the path it drops dropped, and prints the stats after.
phase() { echo "mark $LAB_DIR/$1 stream 6000 4000 await $LAB_DIR/$1.dropped idle $dead stats"; }
# shellcheck disable=SC2046 # phase: words
lab_bg c aoe-client -v -i h0 -d $dead 1.1 reserve write 8000 64 1 \
  $(phase move) $(phase spoof) $(phase back) read 8000 64 1 >"$out" 2>&1

wait_file "$LAB_DIR/move" "client did not start"
sleep 1
move_to eth1
drop_seen "path $mac0 via h0 silent for [0-9]* ms" 1 "$LAB_DIR/move.dropped"
wait_file "$LAB_DIR/spoof" "client did not finish the move"
ip netns exec "$s1" lab-spoof eth0 3 20 1.1 >/dev/null || lab_die "lab-spoof failed"
drop_seen "never identified for [0-9]* ms while another path answers: dropped" 3 "$LAB_DIR/spoof.dropped"
wait_file "$LAB_DIR/back" "client did not finish the spoof"
sleep 1
move_to eth0
drop_seen "path $mac1 via h0 silent for [0-9]* ms" 1 "$LAB_DIR/back.dropped"
wait "$c" || lab_die "I/O failed across the moves: $(cat "$out")"
grep -v '^tx ' "$out"

! grep "declared down" "$out" || lab_die "e1.1 was declared down while a path of it answered"
stats=$(grep '^stats:' "$out")
[ "$(echo "$stats" | grep -c -E '^stats: up=1 .* down=0 paths=1 \[h0 up=1 ')" = 3 ] ||
  lab_die "expected e1.1 up, never down, with one path after each phase: $stats"
# Moved away: the new path came up, the old went down once and was dropped once.
grep -q "path $mac1 via h0 is up" "$out" || lab_die "no path via the new MAC $mac1"
for mac in $mac0 $mac1; do
  n=$(grep -c "path $mac via h0 stopped answering" "$out" || true)
  [ "$n" = 1 ] || lab_die "path $mac went down $n times, not once"
  n=$(grep -c "path $mac via h0 silent for [0-9]* ms while another path answers: dropped" "$out" || true)
  [ "$n" = 1 ] || lab_die "path $mac was dropped $n times, not once"
done
# The forged replies: three paths never identified, dropped, the real one untouched.
n=$(grep -c "never identified for [0-9]* ms while another path answers: dropped" "$out" || true)
[ "$n" = 3 ] || lab_die "expected the 3 forged paths dropped, $n were"
# Moved back: the first MAC is found again as a new path, added to our reservation.
awk -v m="$mac0" '$0 ~ "path " m " via h0 silent" {gone=1}
  gone && $0 ~ "new path via h0 " m ": adding it to our reservation" {back=1}
  END {exit !back}' "$out" || lab_die "the first MAC $mac0 was not found again after the move back"
echo "ok: e1.1 moved $mac0 -> $mac1 -> $mac0 under I/O and forged replies: never down, each old path dropped once"
echo "aoe-mac-move: passed"
