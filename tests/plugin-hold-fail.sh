#!/usr/bin/env bash
# An administrator who knows a held shelf is gone fails it, and nothing waits out
# hold-time any more:
#  - raid1 of 3, idle, dead-time=1s, hold-time=600s: every shelf's port goes down; two
#    shelves are declared down at their dead time, the third (H) held (the array cannot do
#    without it);
#  - 'aoeraid fail H' is refused at once while the array still cannot serve without it;
#  - one shelf declared down (D) comes back with its own disk: the array could do without H
#    now, but H's hold was judged at its dead time and stays;
#  - a write goes to D and waits on H; 'aoeraid fail H' ends H's hold: the request answers
#    within seconds, H is declared down and marked faulty, the write completes (it waited
#    up to hold-time before: the fail did not end the hold, or waited on raid/'s superblock
#    lock held by the write), and reads back from D.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M
log=$LAB_DIR/nbdkit.log
sock=$LAB_DIR/nbd.sock ctl=$LAB_DIR/ctl
uri="nbd+unix:///?socket=$sock"
aoeraid=$top_builddir/aoeraid
san=$LAB_PREFIX-san

shelf_port() { ip -n "$san" link set "s$1-0" "$2"; }
ctl_run() { timeout 20 "$aoeraid" "$@" -c "$ctl" 2>&1; }

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=1 dead-time=1 hold-time=600 control="$ctl"
wait_log "resync finished" "the new raid1"
nbdsh -u "$uri" -c "h.pwrite(b'a' * (1 << 20), 0); h.flush()" || lab_die "the write before"

for i in 1 2 3; do shelf_port "$i" down; done
wait_log "aoe: e[1-3]\.1: .*cannot do without it: held" "no shelf was held"
for _ in $(seq 100); do
  [ "$(grep -c "aoe: e[1-3]\.1: .*shelf declared down" "$log")" -ge 2 ] && break
  sleep 0.1
done
[ "$(grep -c "aoe: e[1-3]\.1: .*shelf declared down" "$log")" -eq 2 ] ||
  lab_die "not two shelves declared down: $(grep "aoe: e" "$log" | tail -n 8)"
held=$(grep -o "aoe: e[1-3]\.1: .*cannot do without it: held" "$log" | head -n 1 | cut -d' ' -f2)
held=${held%:} held_n=${held:1:1}
back=$(grep -o "aoe: e[1-3]\.1: .*shelf declared down" "$log" | head -n 1 | cut -d' ' -f2)
back=${back%:} back_n=${back:1:1}
echo "held: $held, declared down: $back and the other"

out=$(ctl_run fail "$held") && lab_die "fail $held was taken while the array needs it: $out"
grep -q "$held is held .*the array cannot serve without it" <<<"$out" ||
  lab_die "fail $held refused without saying why: $out"
echo "ok: fail of the held shelf refused while needed: $out"

shelf_port "$back_n" up
wait_log "$back answers again: back in slot [0-9]+ with its own disk" "$back did not come back"
aoe_target_held_still=$(timeout 5 "$aoeraid" status -c "$ctl" 2>/dev/null || true)
grep -q "waiting for $held: no answer, held" <<<"$aoe_target_held_still" ||
  lab_die "$held is not held any more: $aoe_target_held_still"
echo "ok: $back is back, $held still held"

# A write to D and H: its half on H waits for H.
timeout 60 nbdsh -u "$uri" -c "h.pwrite(b'b' * (1 << 20), 0); h.flush()" \
  >"$LAB_DIR/write.out" 2>&1 &
writer=$!
sleep 2
kill -0 "$writer" 2>/dev/null || lab_die "the write did not wait on the held $held: $(cat "$LAB_DIR/write.out")"

out=$(ctl_run fail "$held") || lab_die "fail $held: $out"
grep -q "$held was held: its hold ended" <<<"$out" || lab_die "fail $held: $out"
echo "ok: fail $held: $out"
wait "$writer" || lab_die "the write failed or waited on: $(cat "$LAB_DIR/write.out")"
echo "ok: the write waiting on $held completed once it was failed"
grep -q "aoe: $held: .*its hold was ended" "$log" || lab_die "no line says $held's hold was ended"
st=$(ctl_run status)
grep -Eq "$held.*faulty|faulty.*$held" <<<"$st" || lab_die "$held is not faulty: $st"
nbdsh -u "$uri" -c "assert h.pread(1 << 20, 0) == b'b' * (1 << 20)" ||
  lab_die "the write does not read back"
echo "ok: $held faulty, the write reads back from $back"

for i in 1 2 3; do shelf_port "$i" up; done
plugin_stop
echo "plugin-hold-fail: passed"
