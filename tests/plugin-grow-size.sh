#!/usr/bin/env bash
# Using bigger shelves (md's --grow --size=max) through `aoeraid grow size=max`: a RAID5
# of three 32 MiB shelves, each member replaced in turn by a 64 MiB shelf (aoeraid
# replace), then grown: new clients see the bigger size, the old data is intact, the new
# space is resynced (a check finds no mismatch), written and read, and a restart keeps
# the size.  Then the shelves' files grow in place to 96 MiB while nbdkit is stopped
# (vblade restarted on them): size=80M, then size=max again.  Refusals: nothing to grow,
# size= with shelves, shrinking, more than the shelves hold, a bad size.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 6 -s 32M -m 9000
# The bigger shelves hold old garbage, not zeros: the parity of their new space is right
# only once the resync has written it.
for i in 4 5 6; do
  lab_kill $i
  head -c 64M /dev/urandom >"${LAB_IMG[$i]}"
  lab_start $i
done
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 48M 2M
want=$(md5sum <"$LAB_DIR/data")
size() { nbdinfo --size "$uri"; }
ended() { grep -Ec ": check (finished|stopped)" "$LAB_DIR/nbdkit.log" || true; }
check_clean() {  # a check of the whole array finds no mismatch
  local before
  before=$(ended)
  "$aoeraid" check -c "$ctl" >/dev/null || lab_die "aoeraid check: $(status)"
  for _ in $(seq 300); do [ "$(ended)" -gt "$before" ] && break; sleep 0.1; done
  status | grep >/dev/null "last check complete at 100.0%: mismatches 0 " ||
    lab_die "$1: the check found mismatches: $(status)"
  echo "ok: $1: a check of the whole array finds no mismatch"
}
# 2 MiB at the start of the new space ($1: the old size) and 2 MiB at its end ($2: the
# new size); read back, with what was written there before (in $pieces).
pieces=
new_space_write() {
  nbdsh -u "$uri" -c "
data = open('$LAB_DIR/more', 'rb').read()
h.pwrite(data, $1)
h.pwrite(data, $2 - len(data))
h.flush()
" || lab_die "writing the new space failed"
  pieces="${pieces:+$pieces }$1 $(($2 - (2 << 20)))"
}
new_space_reads() {
  nbdsh -u "$uri" -c "
data = open('$LAB_DIR/more', 'rb').read()
for off in [${pieces// /, }]:
    assert h.pread(len(data), off) == data, 'the new space at %d' % off
" || lab_die "$1: the new space does not read back"
}

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K control="$ctl" \
  sync-speed-max=20M
wait_clean "the resync"
nbdcopy --flush "$LAB_DIR/data" "$uri"
size1=$(size)
# the data starts at 1.5 MiB (room for 8 grows onto shelves of 64K chunks): 30.5 MiB each
[ "$size1" -eq $((61 << 20)) ] || lab_die "raid5 of three 32 MiB shelves: $size1 bytes"
echo "ok: raid5 of 3 x 32 MiB: $size1 bytes, 48 MiB written"

grow_refused "size=max with no bigger member" \
  "nothing to grow: every member's data area is already 30.5 MiB; replace members with bigger shelves first" \
  size=max
grow_refused "size= with shelves" "size= takes no shelves, level or other change" size=max e4.1
grow_refused "size=lots" "'lots' is not a member size" size=lots

for pair in 1:4 2:5 3:6; do
  old=e${pair%:*}.1 new=e${pair#*:}.1 slot=$((${pair%:*} - 1))
  out=$("$aoeraid" replace -c "$ctl" "$old" "$new") || lab_die "replace $old $new: $out"
  for _ in $(seq 600); do
    out=$(status)
    grep -Eq "^ +$slot +$new +active" <<<"$out" && ! grep -q "replace slot" <<<"$out" && break
    sleep 0.1
  done
  grep -Eq "^ +$slot +$new +active" <<<"$out" || lab_die "$new did not replace $old: $out"
  echo "ok: $new (64 MiB) replaced $old"
done
[ "$(size)" -eq "$size1" ] || lab_die "the size changed before the grow: $(size)"
grow_refused "a shrink" "shrinking is not supported" size=16M

out=$("$aoeraid" grow -c "$ctl" size=max) || lab_die "grow size=max failed: $out"
echo "ok: $out"
grep -q "grow: member data size 30.5 MiB -> 62.5 MiB, array 61 MiB -> 125 MiB; the new space is resynced next" \
  "$LAB_DIR/nbdkit.log" || lab_die "no grow line in the log: $(grep grow "$LAB_DIR/nbdkit.log")"
# The resync starts at the old end (the log says where; status, read later on a loaded
# machine, may already be past 48.8%).
started() { grep -q "resync from stripe 488 of 1000" "$LAB_DIR/nbdkit.log"; }
for _ in $(seq 300); do started && break; sleep 0.1; done
started ||
  lab_die "no resync of the new space only: $(grep "resync" "$LAB_DIR/nbdkit.log")"
st=$(status)
echo "ok: the resync starts at the old end; status: $(grep "  resync" <<<"$st" || echo done)"
size2=$(size)
[ "$size2" -eq $((125 << 20)) ] || lab_die "a new client sees $size2 bytes after the grow"
echo "ok: a new client sees $size2 bytes"
wait_clean "the resync"
[ "$(readback)" = "$want" ] || lab_die "the old data differs after the grow"
new_space_write "$size1" "$size2"
new_space_reads "after the grow"
check_clean "after the resync of the new space"

plugin_stop
plugin_start "$sock" shelves=e4.1,e5.1,e6.1 control="$ctl" dead-time=1
[ "$(size)" -eq "$size2" ] || lab_die "after a restart: $(size) bytes, want $size2"
[ "$(readback)" = "$want" ] || lab_die "after a restart: the old data differs"
new_space_reads "after a restart"
echo "ok: restarted: $size2 bytes, old data and new space intact"

# The shelves' disks grow in place (vblade restarted on bigger files) while the server
# runs: each is declared down, comes back bigger, and counts at its new size.
for i in 4 5 6; do
  lab_kill $i
  for _ in $(seq 300); do status | grep >/dev/null -E "^ +[0-9] +e$i.1 .* down " && break; sleep 0.1; done
  status | grep >/dev/null -E "^ +[0-9] +e$i.1 .* down " || lab_die "e$i.1 not seen down: $(status)"
  head -c 32M /dev/urandom >>"${LAB_IMG[$i]}"
  lab_start $i
  wait_log "e$i.1: comes back with 196608 sectors, 131072 before: its disk grew" \
    "e$i.1 did not come back grown"
done
for _ in $(seq 300); do
  out=$(status)
  [ "$(grep -cE "^ +[0-9] +e[456].1 +active .* up " <<<"$out")" = 3 ] &&
    ! grep -q "recovery" <<<"$out" && break
  sleep 0.1
done
[ "$(grep -cE "^ +[0-9] +e[456].1 +active .* up " <<<"$out")" = 3 ] ||
  lab_die "the shelves did not all come back: $out"
echo "ok: e4.1, e5.1 and e6.1 each went down, grew by 32 MiB and came back while serving"
grow_refused "more than the shelves hold" "to 95 MiB per member: e4.1 has room for 94.5 MiB only" \
  size=95M
out=$("$aoeraid" grow -c "$ctl" size=80M) || lab_die "grow size=80M failed: $out"
grep -q "grown to $((160 << 20)) bytes" <<<"$out" || lab_die "grow size=80M: $out"
echo "ok: shelves grown in place, a given member size: $out"
wait_clean "the resync"
out=$("$aoeraid" grow -c "$ctl" size=max) || lab_die "the second grow size=max failed: $out"
echo "ok: then size=max: $out"
wait_clean "the resync"
size3=$(size)
[ "$size3" -eq $((189 << 20)) ] || lab_die "after the second grow: $size3 bytes"
[ "$(readback)" = "$want" ] || lab_die "after the second grow: the old data differs"
new_space_write "$size2" "$size3"
new_space_reads "after the second grow"
check_clean "after the second grow"

lab_kill 5
[ "$(readback)" = "$want" ] || lab_die "e5.1 gone: the old data differs"
new_space_reads "with e5.1 gone"
echo "ok: e5.1 killed: every byte still right, the new space too"
plugin_stop
echo "plugin-grow-size: passed"
