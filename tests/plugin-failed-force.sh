#!/usr/bin/env bash
# A bad week on a RAID5: a shelf dies, the spare's recovery starts, and a second shelf
# dies half way (unplugged): the array fails.  The second shelf answers again, but its
# superblock is behind and records it faulty.  As with md, the start is refused naming it
# and force (mdadm --assemble --force), and force=true takes it back (auto-readd left it
# alone when it came back to the failed array, as md would): the data written
# before the failure reads back, the recovery onto the spare goes on from where it was,
# and the array is whole again.  (hold-time=0: the second shelf, one the array cannot do
# without, goes down at its dead time rather than being held.)
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 5 -s 64M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 0

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 spares=e4.1 level=5 name=v control="$ctl" \
  dead-time=1 hold-time=0
wait_clean "creation"
# The recovery onto e4.1 slow (1 MB/s: about a minute), so that e3.1 dies half way; the
# creation's resync before it at full speed.
ctl_ok speed min=1M max=1M
nbdcopy --flush "$LAB_DIR/data" "$uri"
# A down member is failed by the first write it misses: the data again, the same bytes, so
# whatever such a write leaves behind (cut short by the failure) reads as before.
# One request at a time (nbdsh): nbdcopy, failing, disconnects with writes in flight, and
# nbdkit 1.32 can then abort (connections.c raw_send_socket: Assertion 'sock >= 0'), its
# own race on a closed socket, not aoeraid's.
rewrite() {
  nbdsh -u "$uri" -c "
data = open('$LAB_DIR/data', 'rb').read()
for off in range(0, len(data), 1 << 20):
    try:
        h.pwrite(data[off:off + (1 << 20)], off)
    except nbd.Error:
        pass
try:
    h.flush()
except nbd.Error:
    pass
" 2>/dev/null || true
}
lab_kill 2
rewrite
wait_status "recovery slot 1 \(e4.1\) [0-9.]+%"
lab_kill 3
rewrite
wait_status "state failed"
# nothing runs on a failed array: no rate decaying since the recovery stopped, no eta
grep -Eq "^  recovery slot 1 \(e4.1\) [0-9.]+% \([0-9]+ of 118 stripes\)  stopped: the array has failed$" \
  <<<"$out" || lab_die "status of the failed array: $out"
echo "ok: e2.1 died, e4.1's recovery started, e3.1 died: the array failed"
ctl_ok add e5.1
grep -q "^added e5.1 as a spare; the array has failed: nothing is rebuilt until it starts again" \
  <<<"$out" || lab_die "add to the failed array answered: $out"
# e3.1's shelf answers again while the failed array runs: auto-readd leaves it out (md adds
# nothing to a failed array); a spare then, its superblock would name no slot and not even
# force could start the array again
lab_start 3
# e3.1 missed writes e1.1 and e4.1 recorded: a start needs force, and the refusal says so
back="e3.1 is back but was not re-added: e3.1 holds slot 2 of 'v', which has failed: .*; stop the array and start it again with force=true"
for _ in $(seq 300); do grep -q "$back" "$LAB_DIR/nbdkit.log" && break; sleep 0.1; done
grep -q "$back" "$LAB_DIR/nbdkit.log" ||
  lab_die "e3.1 back: no refusal logged: $(grep "e3.1" "$LAB_DIR/nbdkit.log" | tail -n 3)"
status | grep -Eq "^  spares .*e3\.1" && lab_die "e3.1 taken as a spare of the failed array: $(status)"
echo "ok: e3.1 came back to the failed array and auto-readd left it in its slot"
plugin_stop

# examine says the array failed and gives the command that starts it, with force
out=$(lab_exec aoeraid examine -i h0)
grep -q "^  failed: too few fresh members to start; force=true takes the stale ones back (mdadm --assemble --force): nbdkit aoeraid shelves=e1.1,e4.1,e3.1 spares=e5.1 force=true$" \
  <<<"$out" || lab_die "examine of the failed array: $out"
[ "$(lab_exec aoeraid examine -i h0 --json | jq -r '.arrays[0].force_command')" = \
  "nbdkit aoeraid shelves=e1.1,e4.1,e3.1 spares=e5.1 force=true" ] || lab_die "examine --json: no force_command"
echo "ok: examine gives the start with force=true"
plugin_fails "a failed array without force" \
  "raid5 'v' cannot start: .*; stale: e3.1 \(assemble with force to take it back" name=v
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" name=v force=true control="$ctl"
grep -q "member e3.1 (slot 2, events [0-9]*) taken back (force)" "$LAB_DIR/nbdkit.log" ||
  lab_die "e3.1 not taken back: $(grep -v ' aoe: ' "$LAB_DIR/nbdkit.log")"
[ "$(readback)" = "$want" ] || lab_die "force=true: the data written before the failure differs"
echo "ok: force=true took e3.1 back; the data reads back"
wait_recovered 1 e4.1
[ "$(readback)" = "$want" ] || lab_die "after the recovery onto e4.1: data differs"
plugin_stop
plugin_start "$sock" name=v control="$ctl"
wait_clean "the restart after the recovery"
[ "$(readback)" = "$want" ] || lab_die "after a restart: data differs"
plugin_stop
echo "ok: e4.1 rebuilt from e1.1 and e3.1; the array starts whole without force, data intact"
echo "plugin-failed-force: passed"
