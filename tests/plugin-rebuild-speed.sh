#!/usr/bin/env bash
# Speed limits of recovery (md's speed_limit_min / speed_limit_max): RAID1 of two shelves
# started with sync-speed-max=2M; e2.1 dies and e3.1 is hot-added.  The idle rebuild keeps
# to 2 MiB/s; then `aoeraid speed max=0 min=2M` lifts the max, and while a client writes
# the rebuild keeps to the min; when the client stops it runs free and completes.  The
# status view and `aoeraid speed` show the limits; bad rates are refused with a clear line.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 32M 8M

plugin_fails "bad rate" "sync-speed-max: 'fast' is not a rate" shelves=e1.1,e2.1 level=1 \
  sync-speed-max=fast
echo "ok: sync-speed-max=fast refused"

# 64K chunks: a recovery step is 16 chunks, 1 MiB, so the pace shows within seconds.
plugin_start "$sock" shelves=e1.1,e2.1 level=1 chunk=64K control=$ctl dead-time=2 \
  sync-speed-max=2M
nbdcopy --flush "$LAB_DIR/data" "$uri"
status | grep >/dev/null "sync speed  min 50M/s  max 2M/s" || lab_die "limits not in status: $(status)"
out=$("$aoeraid" speed -c "$ctl") || lab_die "aoeraid speed failed: $out"
[ "$out" = "resync and recovery speed: min 50M/s while busy, max 2M/s" ] ||
  lab_die "aoeraid speed: $out"
echo "ok: status and aoeraid speed show min 50M/s, max 2M/s"
out=$("$aoeraid" speed -c "$ctl" max=fast 2>&1) && lab_die "max=fast accepted: $out"
echo "$out" | grep >/dev/null "speed: 'fast' is not a rate" || lab_die "max=fast: unclear refusal: $out"
out=$("$aoeraid" speed -c "$ctl" maximum=1M 2>&1) && lab_die "maximum=1M accepted: $out"
echo "$out" | grep >/dev/null "'maximum=1M' is not min=RATE or max=RATE" || lab_die "maximum=1M: $out"
out=$("$aoeraid" speed min=1M 2>&1) && lab_die "speed without -c accepted: $out"
echo "$out" | grep >/dev/null "usage: .* speed -c SOCKET" || lab_die "speed without -c: $out"
# a min above the max is refused (the default min, above, gives way to a lower max)
out=$("$aoeraid" speed -c "$ctl" min=60M max=10M 2>&1) && lab_die "min=60M max=10M accepted: $out"
echo "$out" | grep >/dev/null "speed: sync-speed-min 60M/s is above sync-speed-max 10M/s: give min= at most the max" ||
  lab_die "min=60M max=10M: unclear refusal: $out"
out=$("$aoeraid" speed -c "$ctl" min=3M 2>&1) && lab_die "min=3M above max 2M accepted: $out"
echo "$out" | grep >/dev/null "sync-speed-min 3M/s is above sync-speed-max 2M/s" || lab_die "min=3M: $out"
# a key given twice (the last was taken without a word)
out=$("$aoeraid" speed -c "$ctl" max=100M max=200M 2>&1) && lab_die "max= twice accepted: $out"
[ "$out" = "error: speed: max= given twice: give it once" ] || lab_die "max= twice: $out"
"$aoeraid" speed -c "$ctl" | grep >/dev/null "min 50M/s while busy, max 2M/s" ||
  lab_die "a refused change changed the limits: $("$aoeraid" speed -c "$ctl")"
echo "ok: bad rates refused, the limits unchanged"

# percent and MB/s of the recovery line of the status view
recovery_figures() {
  status | awk '$1 == "recovery" { p = $5; sub("%", "", p); r = $(NF - 3); print p, r }'
}
# holds A B 'CONDITION on a and b': awk's verdict on two figures
holds() { awk -v a="$1" -v b="$2" "BEGIN { exit !($3) }"; }

lab_kill 2
out=$("$aoeraid" add -c "$ctl" e3.1) || lab_die "add e3.1 failed: $out"
# It starts once e2.1 is declared down (dead-time=2 and a keepalive interval after the
# kill, more on a loaded machine): poll for it, then give it 3 s.
for _ in $(seq 300); do [ -n "$(recovery_figures)" ] && break; sleep 0.1; done
[ -n "$(recovery_figures)" ] || lab_die "no recovery running 30 s after the add: $(status)"
sleep 3
read -r pct rate <<<"$(recovery_figures)"
[ -n "$pct" ] || lab_die "the idle recovery under max 2M/s ended within 3 s: $(status)"
holds "$pct" "$rate" 'a < 30 && b <= 3.0' ||
  lab_die "idle recovery under max 2M/s at ${pct}% and ${rate} MB/s after 3 s"
echo "ok: idle recovery keeps to max 2M/s: ${pct}% at ${rate} MB/s after 3 s"

: >"$LAB_DIR/passes"
# One client that writes without a pause (more over the array's start, 1 MiB at a time, a
# flush after each pass): the array stays busy from its first write until the stop file.
# (A new nbdcopy for each pass left a gap between passes; over 0.5 s of it, on a loaded
# machine, the array counted as idle and the recovery ran free meanwhile.)  It notes the
# longest time between two of its writes in $LAB_DIR/gap.
lab_bg writer nbdsh -u "$uri" -c "
import os, time
more = open('$LAB_DIR/more', 'rb').read()
last, gap = None, 0.0
while not os.path.exists('$LAB_DIR/stop'):
    for off in range(0, len(more), 1 << 20):
        h.pwrite(more[off:off + (1 << 20)], off)
        now = time.monotonic()
        gap, last = max(gap, now - (last or now)), now
    h.flush()
    open('$LAB_DIR/gap', 'w').write('%d ms' % (gap * 1000))
    open('$LAB_DIR/passes', 'a').write('x')
"
# From the end of its first pass (the max of 2M/s still holds): the client is writing all
# through the interval.
for _ in $(seq 300); do [ -s "$LAB_DIR/passes" ] && break; sleep 0.1; done
[ -s "$LAB_DIR/passes" ] || lab_die "the client wrote no 8 MiB pass within 30 s: $(status)"
# Only now lift the max: set before the client began (nbdsh starting up, slow on a loaded
# machine), it let the recovery run free over an idle array and end before the first look.
"$aoeraid" speed -c "$ctl" min=2M max=0 | grep >/dev/null "min 2M/s while busy, max none" ||
  lab_die "aoeraid speed min=2M max=0 did not take"
t0=$(date +%s%3N)
read -r pct0 _ <<<"$(recovery_figures)"
sleep 3
read -r pct1 _ <<<"$(recovery_figures)"
ms=$(($(date +%s%3N) - t0))
lab_alive "$writer" || lab_die "the client stopped writing during the interval measured"
[ -n "$pct1" ] || lab_die "the recovery ended while a client wrote under min 2M/s: $(status)"
# 2 MiB/s is 3.2% of the 63 MiB member a second: allow twice that over the time the two
# looks really lay apart (3 s asked for; a loaded machine runs the second look late, and
# the recovery goes on meanwhile).
awk -v a="$pct0" -v b="$pct1" -v ms="$ms" 'BEGIN { exit !(b - a < 2 * 3.2 * ms / 1000) }' ||
  lab_die "busy recovery under min 2M/s went from ${pct0}% to ${pct1}% in $ms ms (the client's" \
    "longest time between two writes: $(cat "$LAB_DIR/gap"))"
echo "ok: recovery beside a writing client keeps to min 2M/s: ${pct0}% -> ${pct1}% in $ms ms" \
  "(the client's longest time between two writes: $(cat "$LAB_DIR/gap"))"

touch "$LAB_DIR/stop"
wait "$writer" || lab_die "the client's writes failed during the recovery"
wait_recovered 1 e3.1
[ "$(readback)" = "$want" ] || lab_die "after recovery: data differs"
echo "ok: the client stopped, the recovery ran free and completed; data verifies"
plugin_stop
echo "plugin-rebuild-speed: passed"
