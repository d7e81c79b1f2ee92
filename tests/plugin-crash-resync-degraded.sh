#!/usr/bin/env bash
# The write hole across a clean stop: a RAID5 without the log crashes (nbdkit killed), the
# next start with every shelf begins the resync after the crash, and a clean stop cuts it
# short.  The superblocks say clean, but they mark the resync as the crash's: a start
# without a shelf is refused (md counts recovery_cp short of MaxSector as dirty), naming
# the resync after a crash and force=true, and writes nothing; examine and status show
# the mark; with force=true it starts, warns, and the data written before the crash reads
# back.  (A new array's first resync is no crash's: plugin-reassemble starts one degraded.)
# First the idle crash: nbdkit killed once every bit of the write-intent bitmap cleared
# again (bitmap-delay=1): no write was under way, no stripe can be torn, so the dirty start
# without a shelf needs no force (examine says so too), says why in one line and reads back
# the data; the shelf re-added, the crash under writes follows.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 0
args=(shelves=e1.1,e2.1,e3.1 level=5 name=v consistency-policy=resync)

# A new array's first resync is no crash's.  Looked at while it runs (slowed down to be
# seen), not after wait_clean, when no resync line is left to say otherwise.
plugin_start "$sock" "${args[@]}" control="$ctl" sync-speed-min=1M sync-speed-max=1M \
  bitmap-delay=1
wait_status "^  resync( after a crash)? [0-9.]+% "
grep -Eq "^  resync [0-9.]+% " <<<"$out" && ! grep -q "^  resync after a crash" <<<"$out" ||
  lab_die "a new array's resync is a crash's: $out"
[ "$("$aoeraid" status -c "$ctl" --json | jq -r '.resync.after_crash')" = false ] ||
  lab_die "status --json: a new array's resync is a crash's: $("$aoeraid" status -c "$ctl" --json | jq -c .resync)"
echo "ok: the creation's resync is not the crash's: $(grep '^  resync' <<<"$out")"
ctl_ok speed min=0 max=0
wait_clean "creation" 120
ex() { lab_exec "$aoeraid" examine -i h0 "$@"; }

# The idle crash: every bit clear again (a pass a second), then nbdkit killed
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_bitmap_clean "" 30
kill -KILL "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null || true
PLUGIN_PID=
echo "ok: 16 MiB written, every bit clear again, nbdkit killed (the superblocks say dirty)"
out=$(ex e2.1 e3.1)
grep -q "^  degraded: dirty, but the write-intent bitmap shows no write under way at the crash: no stripe can be torn; the start needs no force=true$" <<<"$out" &&
  grep -q "^  start: nbdkit aoeraid shelves=e2.1,e3.1$" <<<"$out" ||
  lab_die "examine of the idle crash without e1.1: force=true, or no reason: $out"
[ "$(ex e2.1 e3.1 --json | jq -r '.arrays[0] | "\(.write_hole) \(.command)"')" = \
  "null nbdkit aoeraid shelves=e2.1,e3.1" ] ||
  lab_die "examine --json of the idle crash without e1.1: $(ex e2.1 e3.1 --json | jq -c .arrays)"
echo "ok: examine without e1.1: $(grep '^  start:' <<<"$out")"
lab_kill 1
plugin_start "$sock" "${args[@]}" control="$ctl" auto-readd=false
wait_log "v: dirty and degraded, but the write-intent bitmap shows no write under way at the crash: no stripe can be torn; starting degraded" \
  "the dirty degraded start does not say why it needs no force"
! grep -q "v: starting .*(force)" "$LAB_DIR/nbdkit.log" || lab_die "the idle crash's start forced"
[ "$(readback)" = "$want" ] || lab_die "the idle crash: the data written before it differs"
echo "ok: started degraded without force; the data written before the crash reads back"
lab_start 1
ctl_ok add e1.1
wait_recovered 0 e1.1
echo "ok: e1.1 back in slot 0"

# The crash under writes: the bits of the 16 MiB are set when nbdkit is killed
nbdcopy --flush "$LAB_DIR/data" "$uri"
kill -KILL "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null || true
PLUGIN_PID=
echo "ok: 16 MiB written, nbdkit killed at once (the superblocks say dirty, the bits set)"
# examine gives the start assembly takes: with every shelf none needs force; without
# e1.1 the dirty degraded array without the log does (raid_sb_write_hole, as assembly)
out=$(ex)
grep -q "^  start: nbdkit aoeraid shelves=e1.1,e2.1,e3.1$" <<<"$out" && ! grep -q "^  degraded:" <<<"$out" ||
  lab_die "examine of the dirty whole array: $out"
out=$(ex e2.1 e3.1)
grep -Eq "^  degraded: dirty and degraded, without the partial parity log: .*write hole.*force=true" <<<"$out" &&
  grep -q "^  start: nbdkit aoeraid shelves=e2.1,e3.1 force=true$" <<<"$out" ||
  lab_die "examine of the dirty array without e1.1: no force=true: $out"
[ "$(ex e2.1 e3.1 --json | jq -r '.arrays[0] | "\(.write_hole) \(.command)"')" = \
  "dirty nbdkit aoeraid shelves=e2.1,e3.1 force=true" ] ||
  lab_die "examine --json without e1.1: $(ex e2.1 e3.1 --json | jq -c .arrays)"
echo "ok: examine without e1.1: $(grep '^  start:' <<<"$out")"

# the resync crawls: the stop comes well before its end
plugin_start "$sock" "${args[@]}" control="$ctl" sync-speed-min=1M sync-speed-max=1M
wait_status "^  resync after a crash [0-9.]+% "
# its rate and eta, as recovery's (whatever their values: the machine's load sets them)
wait_status "^  resync after a crash [0-9.]+% \(.*\)  [0-9]+\.[0-9] MB/s  eta [0-9]+s$"
"$aoeraid" status -c "$ctl" --json |
  jq -e '.resync | .after_crash and (.rate_mbs > 0) and (.eta_s >= 0) and (.percent < 100)' \
  >/dev/null || lab_die "status --json: no resync rate and eta: $("$aoeraid" status -c "$ctl" --json | jq -c .resync)"
echo "ok: whole start: $(grep -E '^  resync' <<<"$out")"
plugin_stop
out=$(lab_exec "$aoeraid" examine -i h0)
grep -Eq "^ +state : clean$" <<<"$out" || lab_die "examine: not clean after the stop: $out"
grep -Eq "^ +resync : [0-9.]+% \([0-9]+ of [0-9]+ units in sync\), after a crash: a degraded start wants force until it ends$" \
  <<<"$out" || lab_die "examine does not show the resync after a crash: $out"
[ "$(lab_exec "$aoeraid" examine -i h0 --json | jq -r '[.. | objects | select(has("member_uuid")) | .resync.after_crash] | unique | join(",")')" = true ] ||
  lab_die "examine --json: no resync.after_crash on every member: $(lab_exec "$aoeraid" examine -i h0 --json)"
echo "ok: stopped cleanly before the resync ended: examine shows the resync after a crash"

lab_kill 1
out=$(lab_exec "$aoeraid" examine -i h0)
grep -Eq "^  degraded: degraded, and its resync after a crash did not end \([0-9.]+% in sync\): .*write hole.*force=true" <<<"$out" &&
  grep -q "^  start: nbdkit aoeraid shelves=e2.1,e3.1 force=true$" <<<"$out" ||
  lab_die "examine with e1.1 gone: no force=true for the resync after a crash: $out"
[ "$(lab_exec "$aoeraid" examine -i h0 --json | jq -r '.arrays[0].write_hole')" = resync_after_crash ] ||
  lab_die "examine --json with e1.1 gone: $(lab_exec "$aoeraid" examine -i h0 --json | jq -c .arrays)"
echo "ok: examine with e1.1 gone: $(grep '^  start:' <<<"$out")"
before=$(shelves_sum)
plugin_fails "a degraded start before the resync after a crash ended" \
  "raid5 'v' is degraded \(slot 0 missing\) and its resync after a crash did not end \([0-9.]+% in sync\): .*write hole.*force=true" \
  "${args[@]}"
[ "$(shelves_sum)" = "$before" ] || lab_die "the refused start wrote to a shelf"

plugin_start "$sock" "${args[@]}" control="$ctl" force=true
wait_log "v: starting with the resync after a crash unfinished and degraded \(force\)" \
  "no force warning"
[ "$(readback)" = "$want" ] || lab_die "force=true: the data written before the crash differs"
echo "ok: force=true started it degraded; the data written before the crash reads back"
# degraded, the resync waits: no rate, no eta
wait_status "^  resync after a crash [0-9.]+% \(.*\), pending until the array is whole$"
[ "$("$aoeraid" status -c "$ctl" --json | jq -c '.resync | [.rate_mbs, .eta_s]')" = "[-1,-1]" ] ||
  lab_die "status --json: a rate for the pending resync: $("$aoeraid" status -c "$ctl" --json | jq -c .resync)"
echo "ok: pending: $(grep -E '^  resync' <<<"$out")"
plugin_stop
echo "plugin-crash-resync-degraded: passed"
