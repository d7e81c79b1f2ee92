#!/usr/bin/env bash
# md's --replace through `aoeraid replace`: RAID5 of e1.1-e3.1; `replace e2.1 e4.1` adds
# e4.1 and copies e2.1's chunks onto it while e2.1 keeps serving and a client writes; the
# array stays clean (whole) throughout, e4.1 takes slot 1, e2.1 leaves the array and
# `remove` then releases its shelf.  With e1.1 killed afterwards every byte reads right
# through e4.1.  Refusals: a shelf that is no member (the new shelf named is not added
# then), a missing argument, a slot waiting for a spare (e1.1 failed).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 4 -s 64M -m 9000
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 32M 2M

# A speed limit so that the copy takes a few seconds and meets the writes.
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 chunk=64K control="$ctl" \
  sync-speed-max=20M
nbdcopy --flush "$LAB_DIR/data" "$uri"
wait_clean "the initial resync"

out=$("$aoeraid" replace -c "$ctl" e2.1 e4.1) || lab_die "replace failed: $out"
echo "$out" | grep >/dev/null "added e4.1 as a spare" && echo "$out" | grep >/dev/null "replacing e2.1" ||
  lab_die "replace answered: $out"
# Once the copy is past the first 2 MiB of the array, they are written again: only the
# writes reaching e4.1 as well (md's replacement writes) keep its copy right.
seen= written= rated=
for _ in $(seq 600); do
  out=$(status)
  if echo "$out" | grep >/dev/null "replace slot 1 (e2.1 -> e4.1)"; then
    echo "$out" | grep >/dev/null "state clean" || lab_die "not clean while replacing: $out"
    seen=$(echo "$out" | grep "replace slot")
    # status --json gives its rate and eta as the text line does (whatever their values)
    [ -z "$rated" ] && "$aoeraid" status -c "$ctl" --json |
      jq -e '.replace | .rate_mbs > 0 and .eta_s >= 0 and .percent >= 0' >/dev/null &&
      rated=$("$aoeraid" status -c "$ctl" --json | jq -c .replace)
    if [ -z "$written" ] && echo "$seen" | grep >/dev/null -E " ([2-9][0-9])\.[0-9]% "; then
      nbdsh -u "$uri" -c "h.pwrite(open('$LAB_DIR/more', 'rb').read(), 0); h.flush()" ||
        lab_die "the write beside the replace failed"
      written=$seen
    fi
  fi
  echo "$out" | grep >/dev/null -E "^ +1 +e4.1 +active" && ! echo "$out" | grep >/dev/null "replace slot" && break
  sleep 0.1
done
[ -n "$written" ] || lab_die "no write met the replace past 20 %: last seen '$seen'"
[ -n "$rated" ] || lab_die "status --json: no rate and eta of the replace: last seen '$seen'"
echo "ok: status --json of the replace: $rated"
echo "ok: 2 MiB written at 0 while the copy was at:$written"
echo "ok: while replacing, the array stayed clean:$seen"
echo "$out" | grep >/dev/null -E "^ +1 +e4.1 +active" || lab_die "e4.1 did not take slot 1: $out"
# e2.1 is in no slot: status names it a former member only, until it is removed
echo "$out" | grep -v "^  former member: e2.1 " | grep >/dev/null -w "e2\.1" &&
  lab_die "e2.1 still in the array: $out"
# polled: the line comes after the switch status shows (raid/replace.c, replace_finish)
wait_log "e4.1 replaced e2.1 in slot 1; e2.1 has left the array" "the log does not say the replace finished"

out=$("$aoeraid" remove -c "$ctl" e2.1) || lab_die "remove e2.1 after the replace: $out"
echo "$out" | grep >/dev/null "the array no longer used it" || lab_die "remove answered: $out"
[ -z "$(lab_exec aoe-client -i h0 -w 3000 2.1 holders | sed -n 's/^holders: *//p')" ] ||
  lab_die "e2.1 still reserved after remove"
status | grep -w "e2\.1" && lab_die "e2.1 removed (and wiped): status still names it"
echo "ok: e2.1 left the array and its shelf is released"

err=$("$aoeraid" replace -c "$ctl" e9.1 2>&1) && lab_die "replace of e9.1 succeeded"
echo "$err" | grep >/dev/null "e9.1 is not a working member" || lab_die "replace e9.1: $err"
# A refused replace changes nothing: the shelf named to take the place is not added first.
err=$("$aoeraid" replace -c "$ctl" e9.1 e2.1 2>&1) && lab_die "replace of e9.1 with e2.1 succeeded"
[ "$err" = "error: replace: e9.1 is not a working member of the array (aoeraid status lists them)" ] ||
  lab_die "replace e9.1 e2.1 answered: $err"
status | grep >/dev/null "spares none" || lab_die "a refused replace added e2.1: $(status)"
set +e; err=$("$aoeraid" replace -c "$ctl" 2>&1); rc=$?; set -e
[ $rc -eq 2 ] || lab_die "replace without a shelf: exit $rc: $err"
echo "ok: refusals"

# A failed slot takes the next spare first (md): a replace meanwhile is refused, and the
# shelf named to take the place is not added (it raced the recovery for the slot).
ctl_ok fail e1.1
err=$("$aoeraid" replace -c "$ctl" e3.1 e2.1 2>&1) && lab_die "a replace with slot 0 failed started: $err"
[ "$err" = "error: replace: slot 0 has no working member, and a spare rebuilds it before any replace: give it one with aoeraid add, and replace e3.1 once the array is whole" ] ||
  lab_die "replace with slot 0 failed answered: $err"
status | grep >/dev/null "spares none" || lab_die "the refused replace added e2.1: $(status)"
echo "ok: a replace while slot 0 waits for a spare is refused, nothing added"
lab_kill 1
[ "$(readback)" = "$want" ] || lab_die "e1.1 gone: data through e4.1 differs"
echo "ok: e1.1 killed: every byte reads right through e4.1"
plugin_stop
echo "plugin-replace: passed"
