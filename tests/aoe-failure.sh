#!/usr/bin/env bash
# Shelf failures: a frozen shelf thawed within the dead time completes its I/O; a killed
# shelf fails pending I/O with EIO within the dead time plus a margin, new I/O fails at
# once while it is down, and it is brought back when it answers again.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120

lab_up -n 2 -s 16M -m 9000
wait_file() {
  for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done
  lab_die "$2"
}

# Frozen (SIGSTOP) for 1.5 s with a 4 s dead time: I/O stalls, then completes and verifies.
lab_bg c1 aoe-client -i h0 -w 3000 -d 4000 1.1 mark "$LAB_DIR/r1" stream 4000 4000 stats \
  >"$LAB_DIR/c1.out" 2>&1
wait_file "$LAB_DIR/r1" "client 1 did not start: $(cat "$LAB_DIR/c1.out")"
sleep 0.5
lab_freeze 1
sleep 1.5
lab_thaw 1
wait "$c1" || lab_die "frozen then thawed shelf: I/O failed: $(cat "$LAB_DIR/c1.out")"
grep -q "down=0" "$LAB_DIR/c1.out" || lab_die "thawed shelf was declared down: $(cat "$LAB_DIR/c1.out")"
grep -q "retransmits=[1-9]" "$LAB_DIR/c1.out" || lab_die "freeze caused no retransmits?"
echo "ok: frozen 1.5 s, thawed within the 4 s dead time: all I/O completed and verified"

# Killed with a 2 s dead time: pending I/O fails with EIO in 2 s plus a margin.
dead=2000 margin=1500
lab_bg c2 aoe-client -i h0 -w 3000 -d $dead 1.1 mark "$LAB_DIR/r2" until-fail 20000 4000 \
  expect write 0 8 EIO mark "$LAB_DIR/down2" wait-up 15000 write 0 64 9 read 0 64 9 stats \
  >"$LAB_DIR/c2.out" 2>&1
wait_file "$LAB_DIR/r2" "client 2 did not start: $(cat "$LAB_DIR/c2.out")"
sleep 0.5
t0=$(date +%s%3N)
lab_kill 1
t1=$(date +%s%3N)
wait_file "$LAB_DIR/down2" "killed shelf: I/O did not fail: $(cat "$LAB_DIR/c2.out")"
read -r at quiet <<<"$(sed -n 's/^failed errno=5 silent_ms=\([0-9]*\) at_ms=\([0-9]*\).*/\2 \1/p' \
  "$LAB_DIR/c2.out")"
[ -n "$at" ] || lab_die "killed shelf: no EIO: $(cat "$LAB_DIR/c2.out")"
# Not too late: timed from the end of the kill (the vblade surely gone; stopping it takes
# a loaded machine a while), the margin for a client it did not run for a second.
silent=$((at - t1))
[ "$silent" -le $((dead + margin)) ] ||
  lab_die "killed shelf: EIO $silent ms after the kill, more than dead time $dead + $margin ms"
# Nor too early, nor long past the dead time, on the client's own clock from its last I/O
# that succeeded (the dead time runs from the last answer, or from a request sent after
# it).  Measured from the script's kill instead, a shelf that a loaded machine did not
# run for a moment before the kill would seem declared down early.  A dead time doubled
# fails the upper bound whatever the kill took.
[ "$quiet" -ge $((dead - 5)) ] && [ "$quiet" -le $((dead + margin)) ] ||
  lab_die "killed shelf: EIO $quiet ms after its last answered I/O (dead time $dead ms)"
grep -q "declared down" "$LAB_DIR/c2.out" || lab_die "no 'declared down' message"
grep -q "expected failure: write: e1.1: shelf is down" "$LAB_DIR/c2.out" ||
  lab_die "new I/O to a down shelf did not fail at once: $(cat "$LAB_DIR/c2.out")"
echo "ok: killed shelf: pending I/O failed with EIO $silent ms after the kill, $quiet ms after its last answer (dead time $dead ms)"
lab_start 1
wait "$c2" || lab_die "restarted shelf not brought back: $(cat "$LAB_DIR/c2.out")"
grep -q "wait-up: ok" "$LAB_DIR/c2.out" || lab_die "wait-up missing"
echo "ok: restarted shelf is brought back and serves verified I/O"

# Only the failed shelf is affected: e2.1 works throughout.
lab_exec aoe-client -i h0 -w 3000 2.1 write 0 64 4 read 0 64 4 >/dev/null

# A shelf whose disk grew while it was down (its file extended, vblade restarted on it)
# comes back, at its new size; one that comes back smaller is refused as another disk.
lab_bg c3 aoe-client -i h0 -w 3000 -d 1000 2.1 info write 0 64 5 mark "$LAB_DIR/r3" \
  wait-down 10000 mark "$LAB_DIR/down3" wait-up 15000 info read 0 64 5 mark "$LAB_DIR/up3" \
  wait-down 10000 mark "$LAB_DIR/down3b" idle 3000 info >"$LAB_DIR/c3.out" 2>&1
wait_file "$LAB_DIR/r3" "client 3 did not start: $(cat "$LAB_DIR/c3.out")"
lab_kill 2
wait_file "$LAB_DIR/down3" "e2.1 was not declared down: $(cat "$LAB_DIR/c3.out")"
truncate -s 24M "${LAB_IMG[2]}"
lab_start 2
wait_file "$LAB_DIR/up3" "e2.1 grown did not come back: $(cat "$LAB_DIR/c3.out")"
lab_kill 2
wait_file "$LAB_DIR/down3b" "e2.1 was not declared down again: $(cat "$LAB_DIR/c3.out")"
truncate -s 16M "${LAB_IMG[2]}"
lab_start 2
wait "$c3" || lab_die "client 3 failed: $(cat "$LAB_DIR/c3.out")"
[ "$(grep -o 'sectors=[0-9]* ' "$LAB_DIR/c3.out" | tr -d '\n')" = \
  "sectors=32768 sectors=49152 sectors=49152 " ] ||
  lab_die "sizes seen: $(grep sectors= "$LAB_DIR/c3.out")"
grep -q "e2.1: comes back with 49152 sectors, 32768 before: its disk grew" "$LAB_DIR/c3.out" ||
  lab_die "no word of the growth: $(cat "$LAB_DIR/c3.out")"
grep -q "answers with 32768 sectors, .* not accepted as a path" "$LAB_DIR/c3.out" ||
  lab_die "a shrunk disk was not refused: $(cat "$LAB_DIR/c3.out")"
grep -q "up=0" <<<"$(grep 'sectors=' "$LAB_DIR/c3.out" | tail -n 1)" ||
  lab_die "a shrunk disk was taken: $(cat "$LAB_DIR/c3.out")"
echo "ok: e2.1 grown while down comes back at 24 MiB; shrunk back to 16 MiB it is refused"
echo "aoe-failure: passed"
