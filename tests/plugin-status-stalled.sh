#!/usr/bin/env bash
# `aoeraid status` answers, within -t 2, while a superblock write waits on a stopped
# shelf (SIGSTOP: it takes the frames and answers none, so the write waits out dead-time)
# and while 16 commands queue behind that write: raid_status reads what the last
# superblock change published, never sb_lock, which the write holds; and the 17th client,
# with every client thread taken, is answered by the accept thread: status is served, a
# command is told "busy: ... try again".  Before, status waited for the write (dead-time),
# and the 17th client waited in the listen backlog.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150
. "$top_srcdir/tests/plugin-lib.sh"
. "$top_srcdir/tests/plugin-rebuild-lib.sh"

lab_up -n 3 -s 16M
# dead-time=30: the stopped shelf is not declared down (ending the write) while we look
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=1 control="$ctl" dead-time=30
wait_clean "the new mirror"
threads() { ls "/proc/$PLUGIN_PID/task" | wc -l; }
base=$(threads)

# fail e1.1: its superblock write, e2.1 and e3.1, waits on the stopped e3.1, sb_lock held
lab_freeze 3
"$aoeraid" fail -t 100 -c "$ctl" e1.1 >"$LAB_DIR/fail.out" 2>&1 &
failer=$!
lab_track "$failer"
# the status tells the failure once the write begins: it answers while the write waits
seen=
for _ in $(seq 50); do
  out=$("$aoeraid" status -t 2 -c "$ctl" 2>&1) ||
    lab_die "status while the superblock write waits on the stopped e3.1: $out"
  grep -Eq "^ +0 +e1\.1 +faulty" <<<"$out" && { seen=1; break; }
  sleep 0.1
done
[ -n "$seen" ] || lab_die "status never showed e1.1 faulty: $out"
lab_alive "$failer" || lab_die "the fail ended before status answered: $(cat "$LAB_DIR/fail.out")"
grep -q "state degraded" <<<"$out" || lab_die "status during the write: $out"
echo "ok: status answered within 2 s, e1.1 faulty, while its superblock write waits on e3.1"
# the stopped e3.1 is up until its dead time, and its row says so; the line below the
# rows says it does not answer, and for how long (md shows nothing, the kernel aoe driver
# nothing until aoe_deadsecs)
seen=
for _ in $(seq 100); do
  out=$("$aoeraid" status -t 2 -c "$ctl" 2>&1) || lab_die "status: $out"
  grep -Eq "^  waiting for e3\.1: no answer for [0-9]+\.[0-9] s \(declared down at dead-time 30\.0 s\)$" <<<"$out" &&
    { seen=1; break; }
  sleep 0.1
done
[ -n "$seen" ] || lab_die "status never said e3.1 does not answer: $out"
! grep -Eq "waiting for e2\.1" <<<"$out" || lab_die "status says the answering e2.1 is silent: $out"
json=$("$aoeraid" status --json -t 2 -c "$ctl")
python3 -c 'import json, sys
m = {x["name"]: x for x in json.loads(sys.argv[1])["members"] if x.get("name")}
assert m["e3.1"]["shelf"]["silent_ms"] >= 1000, m["e3.1"]
assert m["e2.1"]["shelf"]["silent_ms"] == 0, m["e2.1"]' "$json" || lab_die "status --json: $json"
echo "ok: $(grep "waiting for e3.1" <<<"$out")"

# 15 commands more queue behind the fail (command_lock): every client thread taken
queued=()
for i in $(seq 15); do
  "$aoeraid" speed -t 100 -c "$ctl" >"$LAB_DIR/speed$i.out" 2>&1 &
  queued+=($!)
  lab_track "$!"
done
for _ in $(seq 100); do [ "$(threads)" -ge $((base + 16)) ] && break; sleep 0.1; done
[ "$(threads)" -ge $((base + 16)) ] ||
  lab_die "the server has $(threads) threads, not $base + 16 client threads"
lab_alive "$failer" || lab_die "the fail ended before the 16 queued: $(cat "$LAB_DIR/fail.out")"
for form in "" --json; do
  # shellcheck disable=SC2086 # form: no word or one
  out=$("$aoeraid" status $form -t 2 -c "$ctl" 2>&1) ||
    lab_die "status $form with 16 commands queued: $out"
  grep -q '"state":"degraded"\|state degraded' <<<"$out" || lab_die "status $form: $out"
done
if out=$("$aoeraid" speed -t 2 -c "$ctl" 2>&1); then
  lab_die "a 17th command was served with 16 queued: $out"
fi
grep -q "^busy: 16 requests under way" <<<"$out" || lab_die "a 17th command: $out"
lab_alive "$failer" || lab_die "the fail ended before the checks: $(cat "$LAB_DIR/fail.out")"
echo "ok: with 16 commands queued, status answered and a 17th command was told: $out"

lab_thaw 3
wait "$failer" || lab_die "the fail failed once e3.1 was thawed: $(cat "$LAB_DIR/fail.out")"
for i in $(seq 15); do
  wait "${queued[$((i - 1))]}" || lab_die "queued speed $i: $(cat "$LAB_DIR/speed$i.out")"
done
status | grep -Eq "^ +0 +e1\.1 +faulty" || lab_die "e1.1 not faulty after the fail: $(status)"
! status | grep -q "waiting for" || lab_die "e3.1 thawed, still said silent: $(status)"
echo "ok: e3.1 thawed: the fail and the 15 queued commands ended well"
plugin_stop
echo "plugin-status-stalled: passed"
