#!/usr/bin/env bash
# Assembly by name or uuid without shelves= (md's --assemble --scan): a RAID5 with a spare
# is created with shelves= and spares=, then started with name= alone: the plugin finds
# its shelves among all that answer, assembles it (data intact, the spare a spare), and
# leaves a blank shelf and another array's shelves alone (never reserved: a second host
# starts the other array meanwhile; never written).  After a spare's recovery and after a
# grow, a restart by name finds the new layout; a member, and a spare, down at the start
# are taken when their shelves answer later (auto-readd); examine prints the scan
# command, which starts the array by uuid, also with a replace in progress.  Each error
# (no such array, two arrays of that name, name= and uuid= of two arrays, a bad uuid,
# shelves= of another array with uuid=, a level= not the array's) is one line.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 420
. "$top_srcdir/tests/plugin-lib.sh"

# 32 MiB shelves hold the 16 MiB of data; every rebuild, reshape and copy runs over whole
# shelves (64 MiB ones took twice as long)
lab_up -n 9 -s 32M -m 9000
lab_host2
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 16M 1M
log=$LAB_DIR/nbdkit.log
host2() { ip netns exec "$LAB_NS2" nbdkit -f -U - "$AOERAID_PLUGIN" iface=h0 discover-time=1 "$@"; }
scan_line() { grep "scan: array" "$log" | tail -n 1; }
# Stop, start by name alone: SHELF active in SLOT, the array clean, the data intact.
restart_by_name() {
  plugin_stop
  : >"$log"
  plugin_start "$sock" name=vol control=$ctl
  out=$(status)
  grep -Eq "^ +$1 +$2 +active" <<<"$out" || lab_die "restart by name: $2 not in slot $1: $out"
  grep -q "state clean" <<<"$out" || lab_die "restart by name: not clean: $out"
  [ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "restart by name: data differs"
}
reshape_done() {
  for _ in $(seq 900); do
    out=$(status)
    grep -Eq "reshape|resync" <<<"$out" || ! grep -q "state clean" <<<"$out" || break
    sleep 0.1
  done
  grep -Eq "reshape|resync" <<<"$out" && lab_die "the reshape did not finish: $out"
  return 0
}

# Another array (a mirror named "other") on e5.1, e6.1; e7.1 stays blank; e8.1 is for a
# grow, e9.1 a spare added later.
plugin_run shelves=e5.1,e6.1 level=1 name=other -- true
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 spares=e4.1 level=5 name=vol control=$ctl
nbdcopy --flush "$LAB_DIR/data" "$uri"
plugin_stop
echo "ok: raid5 'vol' on e1.1-e3.1 with spare e4.1, 16 MiB written; mirror 'other' on e5.1, e6.1"

others=$(shelves_sum 5 6 7 8 9)
blank7=$(shelves_sum 7)
: >"$log"
plugin_start "$sock" name=vol control=$ctl
line=$(scan_line)
grep -Eq "scan: array 'vol' \(uuid [0-9a-f-]{36}\) on e1.1, e2.1, e3.1, spare e4.1$" <<<"$line" ||
  lab_die "the scan line does not name the shelves: $(cat "$log")"
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "assembled by name: data differs"
nbdsh -u "$uri" -c "
data = open('$LAB_DIR/data', 'rb').read()
for off in (0, 4096, 5 << 20, (16 << 20) - 4096):
    assert h.pread(4096, off) == data[off:off + 4096], 'differs at %d' % off
" || lab_die "assembled by name: nbdsh reads differ"
out=$(status)
for s in 0 1 2; do
  grep -Eq "^ +$s +e$((s + 1)).1 +active" <<<"$out" || lab_die "slot $s not e$((s + 1)).1: $out"
done
grep -q "spares e4.1" <<<"$out" || lab_die "the spare is not listed: $out"
echo "ok: name=vol alone: $line; data intact, status lists the members and spare e4.1"

# The other array's shelves are not reserved: a second host starts it while vol runs;
# vol's own are (the check can fail).
[ "$(shelves_sum 5 6 7 8 9)" = "$others" ] || lab_die "a shelf outside the array was written"
out=$(host2 shelves=e1.1,e2.1,e3.1 --run true 2>&1) && lab_die "host2 took vol's shelves: $out"
grep -qi reserved <<<"$out" || lab_die "host2 on vol's shelves: not refused as reserved: $out"
host2 shelves=e5.1,e6.1 --run 'nbdsh -u "$uri" -c "h.pread(4096, 0)"' ||
  lab_die "the other array's shelves could not be started from a second host: reserved?"
echo "ok: e5.1, e6.1 (array 'other') not reserved: a second host starts them; vol's are"

# md's --fail: the spare takes slot 1; a restart by name finds that without any list.
"$aoeraid" fail -c "$ctl" e2.1 >/dev/null
wait_recovered 1 e4.1
restart_by_name 1 e4.1
grep -q "spares none" <<<"$out" || lab_die "restart by name: a spare where none is: $out"
grep -qi "degraded" "$log" && lab_die "restart by name: degraded: $(cat "$log")"
echo "ok: e2.1 failed, e4.1 rebuilt in slot 1: restart by name finds it ($(scan_line))"
# The failed e2.1 still carries its old superblock, older than the array's, naming slot 1,
# which is e4.1's since: a former member, left out by the scan and not reserved (another
# host may take it, as md holds no disk it leaves out).  Then it goes away for good.
grep -q "on e1.1, e3.1, e4.1$" <<<"$(scan_line)" || lab_die "e2.1 taken: $(scan_line)"
grep -q "scan: e2.1 left out: a former member" "$log" ||
  lab_die "e2.1 not named as left out: $(cat "$log")"
out=$(host2 shelves=e2.1 --run true 2>&1) || true
grep -q "e2\.1 is reserved by" <<<"$out" &&
  lab_die "e2.1, a former member left out, is reserved by the start by name: $out"
sleep 1         # 4 looks of auto-readd (every 250 ms): the scan judged e2.1, they leave it alone
grep -q "e2\.1 answers and carries" "$log" && lab_die "former e2.1 adopted: $(cat "$log")"
echo "ok: former member e2.1 left out by the scan, not reserved (host2: $(tail -n 1 <<<"$out"))"
lab_kill 2

# A grow onto e8.1; the restart by name finds the fourth member.
"$aoeraid" grow -c "$ctl" e8.1 >/dev/null || lab_die "grow onto e8.1 refused"
reshape_done
restart_by_name 3 e8.1
plugin_stop
echo "ok: grown onto e8.1: restart by name finds 4 members ($(scan_line))"
[ "$(shelves_sum 7)" = "$blank7" ] || lab_die "blank e7.1 was written"
cmp -s -n 131072 "${LAB_IMG[7]}" /dev/zero || lab_die "blank e7.1 is no longer blank"
echo "ok: blank e7.1 untouched through every start by name"

# A member down at the start is taken back when its shelf answers (auto-readd).
lab_kill 3
: >"$log"
plugin_start "$sock" name=vol control=$ctl
grep -q "scan: array 'vol' .* on e1.1, e4.1, e8.1$" "$log" ||
  lab_die "e3.1 down: unexpected scan line: $(scan_line)"
grep -qi "degraded" "$log" || lab_die "e3.1 down: no degraded warning: $(cat "$log")"
lab_start 3
wait_recovered 2 e3.1
grep -q "e3.1 answers and carries array 'vol'" "$log" || lab_die "e3.1 not adopted: $(cat "$log")"
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "after the re-add: data differs"
echo "ok: e3.1 down at the start, back later: taken and re-added by auto-readd"
# ... and a spare down at the start is taken as a spare when it answers.
"$aoeraid" add -c "$ctl" e9.1 >/dev/null
plugin_stop
lab_kill 9
: >"$log"
# run=true (md's --run) is for a start by shelves=: a scan leaves no member out, so it
# does nothing here, and one line says so rather than nothing
plugin_start "$sock" name=vol control=$ctl run=true
grep -q "warning: run=true: no effect with name=: a start by name= finds every member itself$" \
  "$log" || lab_die "run=true with name=: no warning that it does nothing: $(cat "$log")"
status | grep >/dev/null "spares none" || lab_die "e9.1 down: a spare listed: $(status)"
lab_start 9
for _ in $(seq 300); do status | grep >/dev/null "spares e9.1" && break; sleep 0.1; done
status | grep >/dev/null "spares e9.1" || lab_die "e9.1 back: not taken as a spare: $(status)"
plugin_stop
echo "ok: spare e9.1 down at the start, back later: taken as a spare; run=true said to do nothing"

# examine prints the scan command (text and JSON); it starts the array by uuid.
lab_exec "$aoeraid" examine -i h0 >"$LAB_DIR/ex.txt"
uuid=$(sed -n 's/^ARRAY name=vol uuid=\([^ ]*\) .*/\1/p' "$LAB_DIR/ex.txt")
[ -n "$uuid" ] || lab_die "examine: no ARRAY line for vol: $(cat "$LAB_DIR/ex.txt")"
grep -qx "  scan:  nbdkit aoeraid uuid=$uuid" "$LAB_DIR/ex.txt" ||
  lab_die "examine does not print the scan command: $(cat "$LAB_DIR/ex.txt")"
lab_exec "$aoeraid" examine -i h0 --json >"$LAB_DIR/ex.json"
[ "$(jq -r '.arrays[] | select(.name == "vol") | .scan_command' "$LAB_DIR/ex.json")" = \
  "nbdkit aoeraid uuid=$uuid" ] || lab_die "examine --json: no scan_command"
: >"$log"
scan_args=$(sed -n 's/^  scan:  nbdkit aoeraid //p' "$LAB_DIR/ex.txt" | grep "$uuid")
plugin_start "$sock" $scan_args control=$ctl
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "started by uuid: data differs"
plugin_stop
echo "ok: examine prints 'nbdkit aoeraid uuid=$uuid'; it starts the array"

# Errors: one line each, nothing written.
before=$(shelves_sum)
plugin_fails "no such array" \
  "scan: no shelf holds the array 'nothing': 8 shelves answered on h0 .*give shelves= and level=" \
  name=nothing
plugin_fails "a bad uuid" "uuid: 'not-a-uuid' is not an array uuid" uuid=not-a-uuid
plugin_fails "name= and uuid= of two arrays" \
  "uuid=$uuid is the array named 'vol', not 'other'" name=other uuid="$uuid"
plugin_fails "uuid= with another array's shelves" \
  "uuid=$uuid given, but e5.1 holds array 'other'" shelves=e5.1,e6.1 uuid="$uuid"
plugin_fails "uuid= with blank shelves" "uuid= names an existing array, but no aoeraid array" \
  shelves=e7.1 level=0 uuid="$uuid"
plugin_fails "level= that is not the array's" "level=6 given, but the array 'vol'" \
  name=vol level=6
[ "$(shelves_sum)" = "$before" ] || lab_die "a refusal wrote to a shelf"
echo "ok: refusals wrote nothing"

# Two arrays named vol: name= is refused listing both; uuid= picks one.
plugin_run shelves=e7.1 level=0 name=vol -- true
plugin_fails "two arrays named vol" "two arrays are named 'vol':.*$uuid.*uuid= one of them" \
  name=vol
: >"$log"
plugin_start "$sock" uuid="$uuid" control=$ctl
grep -q "scan: array 'vol' (uuid $uuid) on e1.1, e3.1, e4.1, e8.1, spare e9.1$" "$log" ||
  lab_die "uuid= among two arrays named vol: $(scan_line)"
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "started by uuid: data differs"
plugin_stop
echo "ok: two arrays named vol: name= refused, uuid= starts the right one"

# A replace stopped mid-way: a start by uuid finds the new shelf (its superblock says
# spare, the array records it as replacing slot 2) and resumes the copy.
pct() { status | sed -n 's/^  replace slot 2 (e3.1 -> e9.1) \([0-9]*\)\..*/\1/p'; }
plugin_start "$sock" uuid="$uuid" control=$ctl sync-speed-max=2M
"$aoeraid" replace -c "$ctl" e3.1 e9.1 >/dev/null || lab_die "replace e3.1 e9.1 refused"
for _ in $(seq 600); do p=$(pct); [ -n "$p" ] && [ "$p" -ge 5 ] && break; sleep 0.1; done
[ -n "$p" ] && [ "$p" -ge 5 ] || lab_die "the replace did not reach 5 %: $(status)"
plugin_stop
: >"$log"
plugin_start "$sock" uuid="$uuid" control=$ctl sync-speed-max=2M
grep -q "scan: array 'vol' (uuid $uuid) on e1.1, e3.1, e4.1, e8.1, spare e9.1$" "$log" ||
  lab_die "replace mid-way: $(scan_line)"
grep -Eq "with e9.1 resumes at stripe [1-9]" "$log" ||
  lab_die "the replace did not resume: $(cat "$log")"
[ -n "$(pct)" ] || lab_die "no replace after the start by uuid: $(status)"
[ "$(readback)" = "$(md5sum <"$LAB_DIR/data")" ] || lab_die "replace mid-way: data differs"
plugin_stop
echo "ok: a replace stopped at $p %: the start by uuid finds e9.1 and resumes it"
echo "plugin-scan: passed"
