#!/usr/bin/env bash
# aoeraid zero-superblock beside a running array started with reserve=false on another
# head (it holds no reservation, so zero-superblock cannot see that it runs).  Its refusal of a member must
# leave the running array alone: no write of the array may meet a reservation while the
# shelves are judged (a reservation conflict fences the array: it stops serving).  RAID5
# 'vol' on e1.1..e3.1 with reserve=false, writes under way; zero-superblock of e1.1 and of
# e2.1, without --force, is refused every time, the array is never fenced, no member fails,
# and every write lands.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 150
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M      # room for the writer's 96 MiB; the check at the end reads it all
lab_host2
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
log=$LAB_DIR/nbdkit.log

# the array runs on the second head: its MAC is not the one zero-superblock reserves with
PLUGIN_NS=$LAB_NS2 plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 name=vol chunk=64K reserve=false \
  control="$ctl"
rm -f "$LAB_DIR/writer.state" "$LAB_DIR/writer.state.stop" "$LAB_DIR/writer.state.going"
writer write "$uri" "$LAB_DIR/writer.state" $((96 << 20)) 1 >"$LAB_DIR/writer.out" 2>&1 &
writer_pid=$!
lab_track "$writer_pid"
writer_going "$writer_pid" "$LAB_DIR/writer.state"
# zero_refused SHELF...: zero-superblock of the SHELFs must be refused, naming the slot of
# each (every shelf named is judged, each on its own, before any is written: one run
# judges both, in one discovery window).  The discovery ends once both answered, so a wide
# window (5 s) costs nothing and lets shelves busy with the writer on a loaded machine
# answer late (40 tries of 5 s would be 200 s, past the lab's bound, if it did not end
# early); "did not answer within 5000 ms" (nothing was written) is asked again, twice at
# most; any other answer is judged at once.
zero_refused() {
  local s
  for _ in 1 2 3; do
    if out=$(lab_exec "$aoeraid" zero-superblock -i h0 -w 5000 "$@" 2>&1); then
      lab_die "zero-superblock of $*, members of the running vol, not refused: $out"
    fi
    grep -q "^aoeraid: e[0-9.]* did not answer on h0 within 5000 ms" <<<"$out" || break
  done
  for s in "$@"; do
    grep -q "$s is slot [0-9] of array 'vol'" <<<"$out" || lab_die "zero-superblock $*: $s: $out"
  done
}
for i in $(seq 40); do
  zero_refused e1.1 e2.1
done
echo "ok: zero-superblock of e1.1 and e2.1 refused 40 times each under writes"
! grep -Eiq "fenced|reserved by|marked faulty" "$log" ||
  lab_die "the running array was hurt by a refused zero-superblock: $(grep -Ei "fenced|reserved by|faulty" "$log" | head -n 3)"
status | grep >/dev/null "state clean" || lab_die "vol not clean: $(status)"
echo "ok: vol never fenced, no member failed: $(status | head -n 1)"
writer_verify "zero-superblock refusals"
plugin_stop
echo "tool-zero-live: passed"
