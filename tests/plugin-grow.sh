#!/usr/bin/env bash
# Growing a running array onto new shelves (md's --grow): a RAID1 of two shelves becomes
# a RAID5 of three while a client writes, then a RAID5 of four, stopped in the middle of
# its reshape and started again (it resumes where the superblocks say).  After each
# step every byte reads back, new clients see the new size, and a shelf can die.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 240
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 48M 2M
size() { nbdinfo --size "$uri"; }
reshape_done() {
  for _ in $(seq 900); do
    out=$(status)
    echo "$out" | grep >/dev/null reshape || ! echo "$out" | grep >/dev/null "state clean" || break
    sleep 0.1
  done
  echo "$out" | grep >/dev/null reshape && lab_die "the reshape did not finish: $out"
  wait_clean "the resync of the new space" 90
}

plugin_start "$sock" shelves=e1.1,e2.1 level=1 chunk=64K control=$ctl sync-speed-max=15M
nbdcopy --flush "$LAB_DIR/data" "$uri"
size1=$(size)
wait_clean "a new mirror's first resync" 90     # a grow waits for it
echo "ok: raid1 of 2, $size1 bytes, 48 MiB written"

"$aoeraid" speed -c "$ctl" max=4M >/dev/null    # slowed: the write below meets it midway
out=$("$aoeraid" grow -c "$ctl" level=5 e3.1) || lab_die "grow to raid5 of 3 failed: $out"
echo "ok: $out"
status | grep >/dev/null "reshape raid1 of 2 -> raid5 of 3" || lab_die "no reshape in status: $(status)"
# A write while the data moves: the first 2 MiB (moved already) and 2 MiB at 40 MiB (not
# yet), as the reshape's position says before and after it.
moved() { status | sed -n 's/^  reshape .* (\([0-9]*\) of [0-9]* bytes).*/\1/p'; }
for _ in $(seq 300); do
  m=$(moved)
  [ -z "$m" ] || [ "$m" -ge $((2 << 20)) ] && break     # ended, or 2 MiB moved
  sleep 0.1
done
[ -n "$m" ] && [ "$m" -ge $((2 << 20)) ] ||
  lab_die "no reshape midway for the write (moved: ${m:-none, it ended}): $(status)"
nbdsh -u "$uri" -c "
data = open('$LAB_DIR/more', 'rb').read()
h.pwrite(data, 0)
h.pwrite(data, 40 << 20)
h.flush()
" || lab_die "writing during the reshape failed"
[ "$(moved)" -lt $((40 << 20)) ] 2>/dev/null ||
  lab_die "the reshape was past 40 MiB when the write ended: no write met data not yet moved: $(status)"
dd if="$LAB_DIR/more" of="$LAB_DIR/want" bs=1M seek=40 conv=notrunc status=none
want=$(md5sum <"$LAB_DIR/want")
echo "ok: written during the reshape: $(status | grep reshape)"
out=$("$aoeraid" grow -c "$ctl" e4.1 2>&1) && lab_die "a second grow during the reshape was taken"
echo "$out" | grep >/dev/null "still running" || lab_die "refusal does not say why: $out"
[ "$(wc -l <<<"$out")" -eq 1 ] || lab_die "a refused grow answered more than its refusal: $out"
status | grep >/dev/null "spares none" || lab_die "the refused grow added e4.1: $(status)"
echo "ok: refused, nothing added: $out"
# A member failed during the reshape and added back waits for it: the answer says so (it
# said only "added e3.1 as a spare", where a recovery was expected)
ctl_ok fail e3.1
ctl_ok add e3.1
[ "$out" = "added e3.1 as a spare; a reshape runs: the recovery follows it" ] ||
  lab_die "e3.1 added during the reshape answered: $out"
"$aoeraid" speed -c "$ctl" max=15M >/dev/null
reshape_done
# A shelf that does not answer refuses the grow before any is added (e4.1 was left a spare)
out=$("$aoeraid" grow -c "$ctl" e4.1 e9.1 2>&1) && lab_die "a grow onto absent e9.1 was taken"
[ "$out" = "error: e9.1 did not answer within 2.0s: check that the shelf runs (vblade SHELF SLOT IFACE FILE) and is on this network; nothing was added" ] ||
  lab_die "grow onto e4.1 and absent e9.1 answered: $out"
status | grep >/dev/null "spares none" || lab_die "the refused grow added e4.1: $(status)"
echo "ok: refused, nothing added: $out"
out=$("$aoeraid" grow -c "$ctl" 2>&1) && lab_die "grow without shelves was taken"
echo "$out" | grep >/dev/null "name the shelves" || lab_die "grow without shelves: $out"
out=$("$aoeraid" grow -c "$ctl" level=7 e4.1 2>&1) && lab_die "grow to level 7 was taken"
echo "$out" | grep >/dev/null "'7' is not a level" || lab_die "grow level=7: $out"
echo "ok: usage errors refused: $out"
[ "$(size)" -eq $((2 * size1)) ] || lab_die "raid5 of 3: size $(size), want $((2 * size1))"
[ "$(readback)" = "$want" ] || lab_die "raid5 of 3: data differs"
echo "ok: raid5 of 3, $(size) bytes, every byte right"

# Grow onto e4.1 (added now), slowly, and stop midway.
"$aoeraid" speed -c "$ctl" max=4M >/dev/null
out=$("$aoeraid" grow -c "$ctl" e4.1) || lab_die "grow to raid5 of 4 failed: $out"
grep -q "added e4.1 as a spare" <<<"$out" || lab_die "grow onto e4.1 answered: $out"
grep -q "^growing onto 1 more shelf; add it to shelves= for the next start" <<<"$out" ||
  lab_die "grow onto e4.1 answered: $out"
# polled, not a fixed 3 s: a loaded machine starts the reshape late (at 4 MB/s it runs on)
for _ in $(seq 300); do status | grep >/dev/null "reshape raid5 of 3 -> raid5 of 4" && break; sleep 0.1; done
status | grep >/dev/null "reshape raid5 of 3 -> raid5 of 4" || lab_die "no second reshape: $(status)"
# then 4 MiB of it (1 s at 4 MB/s; a fixed 3 s was 12 MB): a position to show and resume
# from (a stop records where it was)
for _ in $(seq 300); do m=$(moved); [ -n "$m" ] && [ "$m" -ge $((4 << 20)) ] && break; sleep 0.1; done
[ -n "$m" ] && [ "$m" -ge $((4 << 20)) ] || lab_die "the reshape moved no 4 MiB: $(status)"
# its rate and eta, as recovery's (whatever their values: the machine's load sets them)
reshape_line() { status | grep "^  reshape "; }
for _ in $(seq 300); do
  reshape_line | grep -Eq " [0-9]+\.[0-9] MB/s  eta [0-9]+s$" && break
  sleep 0.1
done
reshape_line | grep -Eq "raid5 of 4 .* [0-9]+\.[0-9] MB/s  eta [0-9]+s$" ||
  lab_die "the reshape line has no MB/s and eta: $(status)"
"$aoeraid" status -c "$ctl" --json |
  jq -e '.reshape | (.rate_mbs >= 0) and (.eta_s >= 0) and (.percent > 0)' >/dev/null ||
  lab_die "status --json: no reshape rate and eta: $("$aoeraid" status -c "$ctl" --json | jq -c .reshape)"
echo "ok: the reshape shows its rate and eta: $(reshape_line)"
# the bitmap is off while the data moves, not gone: status says it comes back (it said
# "bitmap none" and "consistency policy resync", an array that lost its bitmap)
bitmap_back() {
  status | grep >/dev/null "^  bitmap off during the reshape: back after it, 65536K regions" &&
    status | grep >/dev/null "^  consistency policy bitmap$" &&
    "$aoeraid" status -c "$ctl" --json | jq -e '.bitmap_after_reshape == 67108864' >/dev/null ||
    lab_die "$1: status does not say the bitmap comes back: $(status)"
}
bitmap_back "during the reshape"
plugin_stop
plugin_start "$sock" shelves=e1.1,e2.1,e3.1,e4.1 control=$ctl
# polled: the monitor thread logs it, started after nbdkit listens (after_fork)
wait_log "reshape from raid5 of 3 to raid5 of 4 at byte [1-9]" \
  "the reshape did not resume from its position"
echo "ok: restarted midway: $(grep -o "reshape from.*" "$LAB_DIR/nbdkit.log" | tail -1)"
status | grep >/dev/null "^  reshape " && bitmap_back "restarted midway"
[ "$(readback)" = "$want" ] || lab_die "during the resumed reshape: data differs"
reshape_done
plugin_stop
plugin_start "$sock" shelves=e1.1,e2.1,e3.1,e4.1 control=$ctl
[ "$(size)" -eq $((3 * size1)) ] || lab_die "raid5 of 4: size $(size), want $((3 * size1))"
[ "$(readback)" = "$want" ] || lab_die "raid5 of 4: data differs"
echo "ok: raid5 of 4 after a restart, $(size) bytes, every byte right"

lab_kill 2
[ "$(readback)" = "$want" ] || lab_die "raid5 of 4 without e2.1: data differs"
echo "ok: e2.1 killed: every byte still right"
plugin_stop
echo "plugin-grow: passed"
