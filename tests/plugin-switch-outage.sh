#!/usr/bin/env bash
# A switch outage silences every shelf at once.  A shelf the array cannot do without is
# held (hold-time=) instead of declared down at its dead time, so the array survives as md
# over the kernel's aoe driver does (aoe_deadsecs):
#  - raid1 of 2, dead-time=1s, hold-time=60s, writes under way, every port of the switch
#    down for 3 s: the first shelf silent for the dead time is declared down (the array
#    degraded), the other held; no write fails, every block reads back as written, and the
#    array comes back clean (the one declared down re-added from the bitmap);
#  - raid0 of 2 the same: both held, the writes resume, nothing lost;
#  - raid0 with hold-time=2s and an outage of 6 s: the hold runs out, the array has lost
#    too many members and a write fails with EIO (the old behaviour, bounded).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 300
. "$top_srcdir/tests/plugin-lib.sh"
. "$top_srcdir/tests/plugin-rebuild-lib.sh"

lab_up -n 6 -s 64M      # the writer's 32 MiB on the raid1: a short resync, a short read-back
log=$LAB_DIR/nbdkit.log

# Status, if the server answers within 2 s (it never waits for a shelf: a superblock write
# waiting on the held one does not hold it, tests/plugin-status-stalled.sh).
status_soon() { timeout 2 "$aoeraid" status -c "$ctl" 2>/dev/null || true; }
held_lines() { grep -c "cannot do without it: held" "$log" || true; }
# What the log said of the shelves' silence.
said() { grep -E "cannot do without|answers again|declared down|too many" "$log" | sed 's/^/  log: /'; }

# The writer over the first 32 MiB; the switch goes away under it for OUTAGE seconds, and
# longer (20 s at most) until status has shown a held shelf (a loaded machine may be slow
# to judge it).  Once it is back and a held shelf resumed, the writer goes on a second.
outage_under_writes() {
  local outage=$1
  writer_start 32
  sleep 1
  lab_switch_ports down
  echo "switch down for $outage s"
  local end=$((SECONDS + outage)) give_up=$((SECONDS + 20))
  held_status=
  while [ "$SECONDS" -lt "$end" ] || { [ -z "$held_status" ] && [ "$SECONDS" -lt "$give_up" ]; }; do
    st=$(status_soon)
    grep -q " held " <<<"$st" && held_status=$st
    sleep 0.1
  done
  lab_switch_ports up
  echo "switch up"
  wait_log "answers again after [0-9]+ s: held I/O resumes" "a held shelf did not resume"
  sleep 1
}
# A shelf was held in the outage, and resumed.
held_and_resumed() {
  [ "$(held_lines)" -gt 0 ] || lab_die "no shelf was held: $(tail -n 8 "$log")"
  wait_log "answers again after [0-9]+ s: held I/O resumes" "a held shelf did not resume"
}

# The writer must have written through it, and every block read back as written.
writes_survived() {
  writer_stop "$1"
  ! grep -q "has lost too many members" "$log" || lab_die "$1: the array lost members: $(grep "too many" "$log")"
}

# ---- raid1 of 2 (e1.1, e2.1) -------------------------------------------------------------------------
held_status= round=0
plugin_start "$sock" shelves=e1.1,e2.1 level=1 dead-time=1 hold-time=60 control="$ctl"
wait_clean "the new raid1"
outage_under_writes 3
writes_survived "a switch outage (raid1)"
held_and_resumed
[ "$(grep -c "aoe: e[12]\.1: no answer.*shelf declared down" "$log")" -eq 1 ] ||
  lab_die "not exactly one shelf declared down: $(grep "aoe: e" "$log" | tail -n 8)"
echo "ok: one shelf declared down at its dead time, the other held"
! grep -q "aoe: e[3-6]\.1: no answer.*cannot do without it" "$log" ||
  lab_die "a shelf of no array was held: $(grep "cannot do without" "$log")"
echo "ok: the shelves of no array went down at their dead time"
[ -n "$held_status" ] || lab_die "status never showed a held shelf during the outage"
grep -q "waiting for e[12]\.1: no answer, held" <<<"$held_status" ||
  lab_die "status does not say what the array waits for: $held_status"
grep -q "state degraded" <<<"$held_status" || lab_die "not degraded while held: $held_status"
echo "ok: status showed the held shelf: $(grep "waiting for" <<<"$held_status")"
wait_clean "the raid1 after the outage" 120
echo "ok: the raid1 is clean again"
said
plugin_stop

# ---- raid0 of 2 (e3.1, e4.1) -------------------------------------------------------------------------
rm -f "$ctl"
mv "$log" "$log.$((++round))"
plugin_start "$sock" shelves=e3.1,e4.1 level=0 chunk=64K dead-time=1 hold-time=60 \
  control="$ctl"
outage_under_writes 3
writes_survived "a switch outage (raid0)"
held_and_resumed
for i in 3 4; do
  grep -q "aoe: e$i\.1: no answer.*cannot do without it" "$log" ||
    lab_die "raid0: e$i.1 was not held: $(grep "aoe: e" "$log" | tail -n 8)"
done
! grep -q "aoe: e[34]\.1: no answer.*shelf declared down" "$log" ||
  lab_die "raid0: a shelf was declared down: $(grep "declared down" "$log")"
echo "ok: raid0: both shelves held, none declared down"
said
plugin_stop

# ---- the hold runs out (raid0 of e5.1, e6.1) --------------------------------------------------------------------
rm -f "$ctl"
mv "$log" "$log.$((++round))"
plugin_start "$sock" shelves=e5.1,e6.1 level=0 chunk=64K dead-time=1 hold-time=2 \
  control="$ctl"
nbdsh -u "$uri" -c "h.pwrite(b'x' * (1 << 20), 0); h.flush()" || lab_die "the write before"
lab_switch_ports down
# Bounded: the dead time, the hold time, and the rest of the array's handling.
timeout 60 nbdsh -u "$uri" -c "
try:
    h.pwrite(b'y' * (1 << 20), 0)
    h.flush()
except nbd.Error as e:
    assert e.errno == 'EIO', 'told %s, not EIO' % e
else:
    raise AssertionError('the write went through with the switch gone past the hold time')
" 2>"$LAB_DIR/nbdsh.err" || lab_die "$(tail -n 3 "$LAB_DIR/nbdsh.err")"
lab_switch_ports up
grep -q "hold time ran out" "$log" || lab_die "no line says the hold ran out: $(tail -n 8 "$log")"
grep -q "has lost too many members" "$log" || lab_die "the array did not fail: $(tail -n 8 "$log")"
echo "ok: past hold-time the shelves go down and the write fails with EIO"
said
plugin_stop

echo "plugin-switch-outage: passed"
