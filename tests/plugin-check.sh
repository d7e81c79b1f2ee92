#!/usr/bin/env bash
# Scrubbing (md's sync_action check and repair) through `aoeraid check`: RAID5 of three
# shelves, chunk 64K.  A check of a healthy array finds nothing; one stripe's parity is then
# damaged on its shelf's disk behind the array's back (a silent corruption): a check finds
# that one mismatch and changes nothing, a repair rewrites it, a last check finds none, and
# with e1.1 gone the data rebuilt through that parity reads right.  Refusals: a bad word, a
# stop with nothing running, a check of a degraded array.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 32M 0
want=$(md5sum <"$LAB_DIR/data")

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K control="$ctl"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the initial resync"

# Run a check or repair ($1: "" or repair) and wait for it to end (the log says so);
# $last: its status line.
ended() { grep -Ec ": (check|repair) (finished|stopped)" "$LAB_DIR/nbdkit.log" || true; }
run_check() {
  local before
  before=$(ended)
  out=$("$aoeraid" check -c "$ctl" $1) || lab_die "aoeraid check $1 failed: $out"
  echo "$out" | grep >/dev/null "started" || lab_die "aoeraid check $1 answered: $out"
  for _ in $(seq 300); do
    [ "$(ended)" -gt "$before" ] && break
    sleep 0.1
  done
  [ "$(ended)" -gt "$before" ] || lab_die "the ${1:-check} did not end: $(status)"
  last=$(status | grep "  last ${1:-check} ") || lab_die "no last ${1:-check} in: $(status)"
}

run_check ""
echo "$last" | grep >/dev/null "last check complete at 100.0%: mismatches 0 " ||
  lab_die "a healthy array: $last"
echo "ok: healthy: $last"

# Stripe 64 (8 MiB / 128 KiB of data a stripe): parity on slot 1 (md's left-symmetric:
# 2 - 64 % 3), at the data offset (1 MiB + 8 chunks of room for grows) plus 64 chunks.
parity_block=$(( (1536 + 64 * 64) / 4 ))
before=$(md5sum <"${LAB_IMG[2]}")
head -c 4096 /dev/urandom | dd of="${LAB_IMG[2]}" bs=4096 seek=$parity_block conv=notrunc \
  status=none
damaged=$(md5sum <"${LAB_IMG[2]}")
[ "$before" != "$damaged" ] || lab_die "the damage changed nothing"
run_check ""
echo "$last" | grep >/dev/null "complete at 100.0%: mismatches 1 " || lab_die "the damage: $last"
grep -q "check: stripe 64: redundancy does not match the data$" "$LAB_DIR/nbdkit.log" ||
  lab_die "no log line names stripe 64: $(grep -i check "$LAB_DIR/nbdkit.log")"
[ "$(md5sum <"${LAB_IMG[2]}")" = "$damaged" ] || lab_die "a check changed the shelf"
[ "$("$aoeraid" status -c "$ctl" --json | jq -r '.check | "\(.action) \(.mismatches)"')" = \
  "check 1" ] || lab_die "status json: $("$aoeraid" status -c "$ctl" --json)"
echo "ok: damaged parity: $last (the shelf unchanged)"

run_check repair
echo "$last" | grep >/dev/null "last repair complete at 100.0%: mismatches 1 (repaired)" ||
  lab_die "repair: $last"
run_check ""
echo "$last" | grep >/dev/null "mismatches 0 " || lab_die "after the repair: $last"
echo "ok: repaired, and a check after it finds none"

err=$("$aoeraid" check -c "$ctl" stop 2>&1) && lab_die "stop with none running succeeded"
echo "$err" | grep >/dev/null "no check or repair is running" || lab_die "stop: $err"
set +e; err=$("$aoeraid" check -c "$ctl" scrub 2>&1); rc=$?; set -e
[ $rc -eq 2 ] && echo "$err" | grep >/dev/null "'scrub' is not repair or stop" || lab_die "scrub: $rc $err"
# One at a time, and stop (md's idle): a check slowed to 2 MB/s runs while asked again.
"$aoeraid" speed -c "$ctl" max=2M >/dev/null
out=$("$aoeraid" check -c "$ctl") || lab_die "a slow check did not start: $out"
for _ in $(seq 300); do status | grep >/dev/null -E "^  check [0-9.]+%" && break; sleep 0.1; done
status | grep >/dev/null -E "^  check [0-9.]+% .* mismatches 0" || lab_die "no running check: $(status)"
# status --json gives its rate and eta as the text line does (whatever their values)
check_json() { "$aoeraid" status -c "$ctl" --json | jq -c .check; }
for _ in $(seq 300); do
  jq -e '.running and .rate_mbs > 0 and .eta_s >= 0 and .percent < 100' <<<"$(check_json)" \
    >/dev/null && break
  sleep 0.1
done
jq -e '.running and .rate_mbs > 0 and .eta_s >= 0' <<<"$(check_json)" >/dev/null ||
  lab_die "status --json: no rate and eta of the running check: $(check_json)"
echo "ok: status --json of the running check: $(check_json)"
err=$("$aoeraid" check -c "$ctl" repair 2>&1) && lab_die "a second check started"
echo "$err" | grep >/dev/null "already running or waiting" || lab_die "second check: $err"
before=$(ended)
out=$("$aoeraid" check -c "$ctl" stop) || lab_die "stop failed: $out"
for _ in $(seq 300); do [ "$(ended)" -gt "$before" ] && break; sleep 0.1; done
status | grep >/dev/null -E "last check stopped at [0-9.]+%" || lab_die "not stopped: $(status)"
[ "$(check_json | jq -c '[.running, .rate_mbs, .eta_s]')" = "[false,-1,-1]" ] ||
  lab_die "status --json: a rate for the stopped check: $(check_json)"
"$aoeraid" speed -c "$ctl" max=0 >/dev/null
echo "ok: a second check refused while one runs; stop ends it: $(status | grep 'last check')"

lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "e1.1 gone: data through the repaired parity differs"
for _ in $(seq 300); do status | grep >/dev/null "state degraded" && break; sleep 0.1; done
err=$("$aoeraid" check -c "$ctl" 2>&1) && lab_die "a check of a degraded array started"
echo "$err" | grep >/dev/null "not now: the array is degraded" || lab_die "degraded: $err"
echo "ok: refusals; e1.1 killed: every byte reads right through the repaired parity"
plugin_stop
echo "plugin-check: passed"
