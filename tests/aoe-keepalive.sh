#!/usr/bin/env bash
# Keepalives: a shelf that dies while nothing is sent to it is declared down within the
# dead time plus one keepalive interval, with no I/O; an idle shelf that lives is never
# declared down, also over a lossy, slow link, and is asked about one small frame per
# interval; an idle path that goes silent goes down alone while the shelf stays up, and
# comes back when it answers again.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150

wait_file() {
  for _ in $(seq 600); do [ -e "$1" ] && return 0; sleep 0.05; done
  lab_die "$2"
}
keepalives() { sed -n "s/.*\[$1 up=1 [^]]* keepalives=\([0-9]*\)\].*/\1/p" "$2" | sed -n "${3:-1}p"; }
# Keepalives sent on path $1 between the first and the second stats line of $2.
keepalives_between() {
  local a b
  a=$(keepalives "$1" "$2" 1) b=$(keepalives "$1" "$2" 2)
  [ -n "$a" ] && [ -n "$b" ] && echo $((b - a))
}

lab_up -n 1 -s 16M -m 9000 -p 2
dead=2000 interval=400

# Idle for 8 s over a link losing 5% and delaying 20 ms: still up, about one keepalive
# per interval on each path, nothing more.  Both paths are up before the idle starts (a
# lost identify keeps one from coming up for a while), and only the idle's count is taken.
# One per interval and round trip is 16 to 20 in 8 s; 12 to 24 leaves room for a client
# the loaded machine did not run for 2 s, and still fails an interval doubled (about 9)
# or halved (about 33).  (Over 4 s, 6 to 12, a stall of one second came near the floor.)
lab_netem loss 5% delay 20ms
out=$(lab_exec aoe-client -i h0 -i h1 -w 3000 -d $dead 1.1 wait-paths 2 5000 write 0 8 1 stats \
  idle 8000 stats)
echo "$out"
lab_netem_clear
echo "$out" >"$LAB_DIR/idle.out"
grep "^stats:" "$LAB_DIR/idle.out" | tail -n 1 | grep >/dev/null "stats: up=1 .* down=0 " || lab_die "an idle, lossy but live shelf went down"
for ifc in h0 h1; do
  n=$(keepalives_between $ifc "$LAB_DIR/idle.out")
  [ -n "$n" ] && [ "$n" -ge 12 ] && [ "$n" -le 24 ] ||
    lab_die "path $ifc: ${n:-no} keepalives in 8 s idle (expected about 18, one per $interval ms)"
done
echo "ok: idle 8 s over loss and delay: up, $(keepalives_between h0 "$LAB_DIR/idle.out") keepalives on h0"

# An idle path goes silent (its link down): that path goes down, not the shelf; it is
# back once it answers again.
lab_bg c1 aoe-client -i h0 -i h1 -w 3000 -d $dead 1.1 wait-paths 2 5000 mark "$LAB_DIR/r1" \
  wait-path-down h1 $((2 * dead + 2000)) await "$LAB_DIR/h1up" wait-paths 2 10000 \
  write 0 64 3 read 0 64 3 stats >"$LAB_DIR/c1.out" 2>&1
wait_file "$LAB_DIR/r1" "client 1 did not start: $(cat "$LAB_DIR/c1.out")"
ip -n "$LAB_NS" link set h1 down
for _ in $(seq 600); do grep -q "wait-path-down: ok" "$LAB_DIR/c1.out" && break; sleep 0.05; done
ip -n "$LAB_NS" link set h1 up
touch "$LAB_DIR/h1up"
wait "$c1" || lab_die "idle path down and up: $(cat "$LAB_DIR/c1.out")"
grep -q "via h1 stopped answering: no answer to keepalives for" "$LAB_DIR/c1.out" ||
  lab_die "path h1 not declared down by its keepalives: $(cat "$LAB_DIR/c1.out")"
grep -q "declared down" "$LAB_DIR/c1.out" && lab_die "the shelf went down with one path left"
awk '/via h1 stopped answering/ {down=1} down && /via h1 is up/ {up=1} END {exit !up}' \
  "$LAB_DIR/c1.out" || lab_die "path h1 did not come back: $(cat "$LAB_DIR/c1.out")"
echo "ok: $(grep -o "via h1 stopped answering.*" "$LAB_DIR/c1.out"); back when it answered"

# The shelf dies while idle: down within dead time + interval + a margin, with no I/O;
# new I/O fails at once; back when restarted.  Timed from the end of the kill (both paths'
# vblades gone: a loaded machine took 800 ms to stop the two), with a margin for a client
# it did not run for a second.  How long the keepalives went unanswered is the client's own
# count: at least the dead time, and not far past it (a dead time doubled fails that).
margin=1500
lab_bg c2 aoe-client -i h0 -i h1 -w 3000 -d $dead 1.1 write 0 8 1 mark "$LAB_DIR/r2" \
  wait-down 15000 expect write 0 8 EIO wait-up 15000 read 0 8 1 stats >"$LAB_DIR/c2.out" 2>&1
wait_file "$LAB_DIR/r2" "client 2 did not start: $(cat "$LAB_DIR/c2.out")"
sleep 1
t0=$(date +%s%3N)
lab_kill 1
t1=$(date +%s%3N)
for _ in $(seq 600); do grep -q "^down at_ms=" "$LAB_DIR/c2.out" && break; sleep 0.05; done
at=$(sed -n 's/^down at_ms=\([0-9]*\)/\1/p' "$LAB_DIR/c2.out")
[ -n "$at" ] || lab_die "idle shelf killed: never declared down: $(cat "$LAB_DIR/c2.out")"
took=$((at - t0)) after=$((at - t1))
[ "$after" -le $((dead + interval + margin)) ] ||
  lab_die "idle shelf killed: down $after ms after the kill ended, more than $dead + $interval + $margin ms"
quiet=$(sed -n "s/.*e1.1: no answer to keepalives for \([0-9]*\) ms (dead time $dead ms): shelf declared down$/\1/p" \
  "$LAB_DIR/c2.out")
[ -n "$quiet" ] || lab_die "no keepalive 'declared down' line: $(cat "$LAB_DIR/c2.out")"
# Not too early by the client's own count from its first unanswered keepalive.  (From the
# script's kill, shelves the loaded machine did not run for a moment before it would seem
# declared down early.)
[ "$quiet" -ge "$dead" ] && [ "$quiet" -le $((dead + margin)) ] ||
  lab_die "idle shelf killed: down when its keepalives went unanswered for $quiet ms (dead time $dead ms)"
grep -q "expected failure: write: e1.1: shelf is down" "$LAB_DIR/c2.out" ||
  lab_die "new I/O to the down shelf did not fail at once: $(cat "$LAB_DIR/c2.out")"
echo "ok: idle shelf killed: declared down $after ms after the kill ($took after it began), with no I/O: $(grep -o "e1.1: no answer to keepalives.*" "$LAB_DIR/c2.out")"
lab_start 1
wait "$c2" || lab_die "restarted shelf not brought back: $(cat "$LAB_DIR/c2.out")"
echo "ok: restarted shelf brought back, data verified"
echo "aoe-keepalive: passed"
