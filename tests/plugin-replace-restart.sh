#!/usr/bin/env bash
# A replace survives restarts (md saves a replacement): RAID5 of e1.1-e3.1; `replace e2.1
# e4.1` copies at 3 MB/s.  Mid-way nbdkit is stopped: examine then shows e4.1 as the
# replacement of slot 1, and the next start (e4.1 given in spares=) resumes the copy from
# where it was, not from 0.  Mid-way again, 2 MiB are written at 8 MiB (below the copy's
# position) and nbdkit is killed (SIGKILL: a crash, the write's region dirty in the
# bitmap); the next start resumes at that region, copies it again and goes on.  At the
# end e4.1 holds slot 1, e2.1 is out, every byte reads right, also with e1.1 gone (through
# e4.1's chunks).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 32M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 2M
args=(shelves=e1.1,e2.1,e3.1 level=5 chunk=64K bitmap-chunk=1M control=$ctl)
examine() { lab_exec "$aoeraid" examine -i h0 "$@"; }
# The replace's progress in percent (integer part), or nothing when none runs.
replace_pct() { status | sed -n 's/^  replace slot 1 (e2.1 -> e4.1) \([0-9]*\)\..*/\1/p'; }
# Wait (bounded) until the replace is at PCT % or more.
wait_replace_at() {
  local p
  for _ in $(seq 300); do
    p=$(replace_pct)
    [ -n "$p" ] && [ "$p" -ge "$1" ] && return 0
    sleep 0.1
  done
  lab_die "the replace did not reach $1 %: $(status)"
}

plugin_start "$sock" "${args[@]}"
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the initial resync"
# The regions written so far go clean (two idle passes): after the crash below, only the
# region written then is dirty.
wait_bitmap_clean "" 20
"$aoeraid" speed -c "$ctl" max=3M >/dev/null
out=$("$aoeraid" replace -c "$ctl" e2.1 e4.1) || lab_die "replace failed: $out"
wait_replace_at 25
plugin_stop
grep -q "replacing e2.1 (slot 1) with e4.1" "$LAB_DIR/nbdkit.log" || lab_die "no replace began"
echo "ok: stopped with the replace mid-way"

examine e4.1 >"$LAB_DIR/ex.txt" || lab_die "examine failed: $(cat "$LAB_DIR/ex.txt")"
role=$(sed -n 's/^ *role : //p' "$LAB_DIR/ex.txt")
echo "$role" | grep >/dev/null -E "^replacement of slot 1, ([2-9][0-9])% copied$" ||
  lab_die "examine does not show e4.1 as the replacement of slot 1: $(cat "$LAB_DIR/ex.txt")"
examine --json e4.1 >"$LAB_DIR/ex.json" || lab_die "examine --json failed"
[ "$(jq -r '.shelves[0] | "\(.role) \(.slot) \(.replace.done > 0)"' "$LAB_DIR/ex.json")" = \
  "replacement 1 true" ] || lab_die "examine --json: $(cat "$LAB_DIR/ex.json")"
echo "ok: examine: e4.1 role: $role"

: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" "${args[@]}" spares=e4.1 sync-speed-max=3M
resumed=$(grep -o "with e4.1 resumes at stripe [0-9]* of [0-9]*" "$LAB_DIR/nbdkit.log") ||
  lab_die "the replace did not resume: $(cat "$LAB_DIR/nbdkit.log")"
[ "$(echo "$resumed" | awk '{print $6}')" -gt 0 ] || lab_die "resumed from 0: $resumed"
p=$(replace_pct)
[ -n "$p" ] && [ "$p" -ge 25 ] || lab_die "status does not show the replace at 25 % or more: $(status)"
status | grep >/dev/null "state clean" || lab_die "not clean while replacing: $(status)"
"$aoeraid" status -c "$ctl" --json |
  jq -e '.replace.slot == 1 and .replace.to == "e4.1" and .replace.done > 0' >/dev/null ||
  lab_die "status --json: $("$aoeraid" status -c "$ctl" --json)"
echo "ok: restarted: replace $resumed; status at $p %"

# Past another checkpoint, a write below the position, then a crash.
wait_replace_at $((p + 20))
p=$(replace_pct)
nbdsh -u "$uri" -c "
h.pwrite(open('$LAB_DIR/more', 'rb').read(), 8 << 20)
h.flush()
" || lab_die "writing 2 MiB at 8 MiB failed"
cp "$LAB_DIR/data" "$LAB_DIR/want"
dd if="$LAB_DIR/more" of="$LAB_DIR/want" bs=1M seek=8 conv=notrunc status=none
want=$(md5sum <"$LAB_DIR/want")
kill -KILL "$PLUGIN_PID"
wait "$PLUGIN_PID" 2>/dev/null || true
PLUGIN_PID=
echo "ok: 2 MiB written at 8 MiB, nbdkit killed with the replace past $p %"

: >"$LAB_DIR/nbdkit.log"
# dead-time=2: the read after e1.1's kill at the end waits for it (the default 5 s)
plugin_start "$sock" "${args[@]}" spares=e4.1 dead-time=2
resumed=$(grep -o "with e4.1 resumes at stripe [0-9]* of [0-9]* (the regions dirty.*" \
  "$LAB_DIR/nbdkit.log") || lab_die "after the crash the replace did not resume at the dirty \
region: $(grep -i replac "$LAB_DIR/nbdkit.log")"
at=$(echo "$resumed" | awk '{print $6}')
# 8 MiB of the array is stripe 64 (128 KiB of data a stripe); its region starts there
[ "$at" -gt 0 ] && [ "$at" -le 64 ] || lab_die "resumed at stripe $at, not at the dirty region: $resumed"
echo "ok: after the crash: $resumed"
for _ in $(seq 600); do
  out=$(status)
  echo "$out" | grep >/dev/null -E "^ +1 +e4.1 +active" && ! echo "$out" | grep >/dev/null "replace slot" && break
  sleep 0.1
done
echo "$out" | grep >/dev/null -E "^ +1 +e4.1 +active" || lab_die "e4.1 did not take slot 1: $out"
# in no slot: named a former member only (until removed)
echo "$out" | grep -v "^  former member: e2.1 " | grep >/dev/null -w "e2\.1" &&
  lab_die "e2.1 still in the array: $out"
# polled: the line comes after the switch status shows (raid/replace.c, replace_finish)
wait_log "e4.1 replaced e2.1 in slot 1; e2.1 has left the array" "the log does not say the replace finished"
[ "$(readback)" = "$want" ] || lab_die "the data differs after the replace"
echo "ok: e4.1 holds slot 1, e2.1 left, every byte right"

lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "e1.1 gone: data through e4.1 differs"
echo "ok: e1.1 killed: every byte reads right through e4.1"
plugin_stop
echo "plugin-replace-restart: passed"
