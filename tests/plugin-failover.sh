#!/usr/bin/env bash
# Failover between two heads (two initiators, each its own MAC, on one SAN), and fencing
# by the AoE reservations.  RAID5 of e1.1..e3.1 with the spare e4.1.
#  1. Head 1 writes, is killed (SIGKILL: its reservations stay, the superblocks say dirty)
#     and e3.1 goes down with it.  Head 2 without takeover=true is refused with one line
#     naming head 1's MAC (force=true takes no reservation); by name= it cannot read the
#     shelves and says to list them; takeover=true alone takes them but meets md's
#     refusal (dirty and degraded: the write hole); with takeover=true force=true it
#     starts, e4.1 rebuilds e3.1's slot, data intact.
#  2. A partial takeover while head 2 runs: e1.1 alone is reserved away from it.  Its next
#     write finds the conflict: head 2 fences the array (EIO, one line naming the holder,
#     status "fenced") and writes nothing more: not a superblock failing e1.1 on e2.1 and
#     e4.1 (not yet taken, they would tell the new head e1.1 is stale), not a byte.  Head
#     1 takes the rest with takeover=true: the dirty regions are resynced, data intact.
#  3. Head 1 hangs (SIGSTOP), head 2 takes over and writes; head 1 resumed cannot write
#     (EIO, fenced); head 2's data, a check and the superblocks are untouched by it.
#  4. Head 1 is cut off the SAN, head 2 takes over; when the cut heals, head 1's re-add
#     of its returning members finds them taken: fenced; head 2 untouched.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 32M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
lab_host2
heads_init
rebuild_data 8M 1M

st() { "$aoeraid" status -c "$1"; }
md5_of() { (set +o pipefail; nbdcopy "$1" - 2>/dev/null | head -c "$2" | md5sum); }
sb_of() { dd if="${LAB_IMG[$1]}" bs=4096 skip=1 count=1 status=none | md5sum; }
# A write of 1 MiB at OFFSET through URI must fail.
write_fails() {
  if nbdsh -u "$1" -c "h.pwrite(b'x' * (1 << 20), $2); h.flush()" 2>"$LAB_DIR/err"; then
    lab_die "$3: a write through the fenced head succeeded"
  fi
}
args=(shelves=e1.1,e2.1,e3.1 spares=e4.1 level=5 chunk=64K bitmap-chunk=1M name=vol)

# ---- 1. head 1 dies; head 2 takes over: takeover=true, and force=true for the write hole ----
head1 "${args[@]}"
nbdcopy --flush "$LAB_DIR/want" "$uri1"
kill -KILL "$pid1"; wait "$pid1" 2>/dev/null || true
lab_kill 3
before=$(shelves_sum)
set +e
out=$(ip netns exec "$LAB_NS2" nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 \
        "${args[@]}" --run true 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || lab_die "head 2 took the shelves without takeover=true: $out"
line=$(grep "is reserved by $mac1" <<<"$out" | head -n 1) ||
  lab_die "head 2's refusal does not name head 1's MAC $mac1: $out"
grep -q "make sure that head is down.*takeover=true" <<<"$line" ||
  lab_die "the refusal does not say how to take over safely: $line"
echo "ok: without takeover=true: ${line#*nbdkit: }"
# A scan by name cannot read the shelves another head holds: a takeover lists them.
out=$(ip netns exec "$LAB_NS2" nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 \
        name=vol takeover=true --run true 2>&1) && lab_die "a scan read shelves reserved by head 1"
grep -q "unreadable (reserved by another head? a takeover cannot scan them: list the shelves" \
  <<<"$out" || lab_die "the scan by name does not say to list the shelves: $out"
[ "$(shelves_sum)" = "$before" ] || lab_die "the refused starts wrote to a shelf"
echo "ok: name=vol takeover=true: $(grep -o 'scan: no shelf.*' <<<"$out" | cut -c1-150)..."

# force=true overrides md's refusals only: it takes no reservation.
out=$(ip netns exec "$LAB_NS2" nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 \
        "${args[@]}" force=true --run true 2>&1) && lab_die "force=true took head 1's shelves"
grep -q "is reserved by $mac1, another head: .*start with takeover=true" <<<"$out" ||
  lab_die "force=true alone: no refusal naming head 1 and takeover=true: $out"
[ "$(shelves_sum)" = "$before" ] || lab_die "the start with force=true wrote to a shelf"
echo "ok: force=true alone takes no reservation"
# takeover=true takes the shelves; head 1 died with the array dirty and e3.1 is down:
# dirty and degraded, md's refusal stands (the write hole is a decision of its own).
out=$(ip netns exec "$LAB_NS2" nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 \
        "${args[@]}" takeover=true --run true 2>&1) &&
  lab_die "takeover=true alone started a dirty degraded RAID5: $out"
grep -q "e1.1: reserved with takeover=true; $mac1 held it" <<<"$out" ||
  lab_die "takeover=true did not log the takeover of e1.1: $out"
grep -q "is dirty and degraded.*write hole" <<<"$out" ||
  lab_die "takeover=true alone: no write-hole refusal: $out"
[ "$(shelves_sum)" = "$before" ] || lab_die "the refused takeover wrote to a shelf"
echo "ok: takeover=true alone: $(grep -o 'is dirty and degraded.*' <<<"$out" | cut -c1-110)..."
head2 "${args[@]}" takeover=true force=true
ctl=$ctl2 uri=$uri2
wait_recovered 2 e4.1
[ "$(readback)" = "$want" ] || lab_die "head 2 serves other data than head 1 wrote"
echo "ok: head 1 killed, e3.1 down: head 2 took over with takeover=true force=true, e4.1 rebuilt slot 2, data intact"

# ---- 2. e1.1 alone is taken from head 2 while it runs ----
wait_clean "head 2 after the recovery"  # no superblock update is due
# The write below lands in a region already dirty: no bitmap update is due for it.
nbdsh -u "$uri2" -c "h.pwrite(b'y' * (1 << 20), 20 << 20); h.flush()"
sb2=$(sb_of 2) sb4=$(sb_of 4)
out=$(lab_exec aoe-client -i h0 -w 3000 1.1 reserve force holders 2>/dev/null)
grep -q "holders: $mac1" <<<"$out" || lab_die "could not take e1.1 from head 2: $out"
write_fails "$uri2" $((20 << 20)) "e1.1 taken"
wait_log "e1.1 is now reserved by $mac1: another head took the array over; this server stops serving it" "head 2" "$log2"
wait_status "fenced: e1.1 is reserved by another head"
wait_log "event Fenced vol e1.1" "head 2" "$log2"
grep -q "marked faulty" "$log2" && lab_die "head 2 failed a member on the conflict: $(grep faulty "$log2")"
[ "$(sb_of 2)" = "$sb2" ] && [ "$(sb_of 4)" = "$sb4" ] ||
  lab_die "head 2 wrote a superblock to e2.1 or e4.1 after the conflict on e1.1"
img2=$(md5sum <"${LAB_IMG[2]}") img4=$(md5sum <"${LAB_IMG[4]}")
write_fails "$uri2" 0 "fenced"
nbdcopy "$uri2" - >/dev/null 2>&1 && lab_die "head 2 still serves reads once fenced"
[ "$(md5sum <"${LAB_IMG[2]}")" = "$img2" ] && [ "$(md5sum <"${LAB_IMG[4]}")" = "$img4" ] ||
  lab_die "fenced head 2 still writes to e2.1 or e4.1, which it holds"
echo "ok: e1.1 taken: head 2 fenced itself (EIO), wrote no superblock, no byte; it logged:"
grep "now reserved" "$log2"

: >"$log1"              # head 1's first run logged a resync too: head_serves must see this one
head1 shelves=e1.1,e2.1,e4.1 name=vol takeover=true
grep -q "e2.1: reserved with takeover=true; $mac2 held it" "$log1" ||
  lab_die "head 1 did not log the takeover of e2.1: $(cat "$log1")"
head_serves 1
grep -q "regions the write-intent bitmap held dirty" "$log1" ||
  lab_die "head 1 did not resync the dirty regions: $(grep resync "$log1")"
[ "$(readback)" = "$want" ] || lab_die "head 1 took over other data than head 2 served"
echo "ok: head 1 took the rest with takeover=true: dirty regions resynced, data intact"
PLUGIN_PID=$pid2 plugin_stop          # fenced: it releases nothing, writes nothing
out=$(lab_exec aoe-client -i h0 -w 3000 2.1 holders 2>/dev/null)
grep -q "holders: $mac1" <<<"$out" || lab_die "head 2's shutdown took head 1's reservation of e2.1: $out"

# ---- 3. head 1 hangs; head 2 takes over; head 1 resumes, fenced ----
kill -STOP "$pid1"
: >"$log2"
head2 shelves=e1.1,e2.1,e4.1 name=vol takeover=true
head_serves 2
fresh_data want2 "$uri2"
kill -CONT "$pid1"
write_fails "$uri1" 0 "head 1 resumed"
wait_log "e[0-9]\.1 is now reserved by $mac2: another head took the array over" "head 1" "$log1"
ctl=$ctl1 wait_status "fenced: e[0-9].1 is reserved by another head"
out=$("$aoeraid" check -c "$ctl1" 2>&1) && lab_die "fenced head 1 started a check: $out"
grep -q "the array is fenced: another head took it over" <<<"$out" ||
  lab_die "fenced head 1 refused a check for another reason: $out"
write_fails "$uri1" $((4 << 20)) "head 1 fenced"
[ "$(readback)" = "$want" ] || lab_die "head 2's data changed after head 1 resumed"
out=$("$aoeraid" check -c "$ctl2") || lab_die "aoeraid check: $out"
wait_status "last check complete at 100.0%: mismatches 0 "
PLUGIN_PID=$pid1 plugin_stop
PLUGIN_PID=$pid2 plugin_stop
lab_exec "$aoeraid" examine -i h0 e1.1 e2.1 e4.1 >"$LAB_DIR/ex.txt" ||
  lab_die "examine: $(cat "$LAB_DIR/ex.txt")"
grep -q "stale\|faulty" "$LAB_DIR/ex.txt" && lab_die "a member is stale or faulty: $(cat "$LAB_DIR/ex.txt")"
[ "$(grep -c "state : clean" "$LAB_DIR/ex.txt")" = 3 ] ||
  lab_die "the superblocks do not agree on a clean array: $(cat "$LAB_DIR/ex.txt")"
echo "ok: head 1 hung, head 2 took over; head 1 resumed: fenced, head 2's data, check and superblocks intact"
grep "now reserved" "$log1"

# ---- 4. head 1 is cut off the SAN; head 2 takes over; the cut heals ----
# hold-time=0: head 1 fails its I/O at the dead time.  (Held, its writes would wait, and
# go out when the cut heals, to shelves head 2 reserved meanwhile: refused, it fences.)
: >"$log1"
head1 shelves=e1.1,e2.1,e4.1 name=vol dead-time=1 hold-time=0
ip -n "$LAB_NS" link set h0 down
write_fails "$uri1" 0 "head 1 cut off"        # its members fail, in its memory only
: >"$log2"
head2 shelves=e1.1,e2.1,e4.1 name=vol takeover=true
fresh_data want4 "$uri2"
ip -n "$LAB_NS" link set h0 up
# auto-readd takes the shelves back as they answer: the first it reads is another's
wait_log "e[0-9]\.1 is now reserved by $mac2: another head took the array over" "head 1" "$log1"
ctl=$ctl2 uri=$uri2
[ "$(readback)" = "$want" ] || lab_die "head 2's data changed after head 1's cut healed"
grep -q "fenced" <<<"$(st "$ctl2")" && lab_die "head 2 fenced: $(st "$ctl2")"
echo "ok: head 1 cut off, head 2 took over; the cut healed: head 1 fenced, head 2 intact"
echo "plugin-failover: passed"
