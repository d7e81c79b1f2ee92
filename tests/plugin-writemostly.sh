#!/usr/bin/env bash
# md's write-mostly members on real shelves: a raid1 started with writemostly=e1.1 (the
# first copy, which an idle array would read from) serves no read from e1.1, the shelf's
# own read count in aoeraid status --json says so, while writes reach it; 'aoeraid
# writemostly ... off' over the control socket sends reads to it again, 'on' takes them
# away; restarted by name and by uuid (no writemostly=) the array keeps what the
# superblocks recorded, status and examine show it.  writemostly= on raid5, of a shelf not
# in shelves=, or no shelf address, refuses to start with one line.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 64M -m 9000
sock=$LAB_DIR/nbd.sock
uri="nbd+unix:///?socket=$sock"
ctl=$LAB_DIR/control.sock
aoeraid=$top_builddir/aoeraid

plugin_fails "writemostly= on raid5" 'writemostly: level=5 keeps each chunk on one member' \
  shelves=e1.1,e2.1,e3.1 level=5 writemostly=e1.1
plugin_fails "writemostly= of a shelf not in shelves=" 'writemostly: e3.1 is not in shelves=' \
  shelves=e1.1,e2.1 level=1 writemostly=e3.1
plugin_fails "writemostly= of no shelf" "writemostly: 'x1' is not a shelf address" \
  shelves=e1.1,e2.1 level=1 writemostly=x1

status_json() { "$aoeraid" status -c "$ctl" --json; }
# Reads SHELF's shelf completed, as status --json counts them.
shelf_reads() { status_json | jq -r --arg m "$1" '.members[] | select(.name == $m) | .shelf.reads'; }
wait_synced() {
  for _ in $(seq 300); do
    [ "$(status_json | jq -r '.resync == null and .recovery == null')" = true ] && return 0
    sleep 0.1
  done
  lab_die "the resync did not finish: $("$aoeraid" status -c "$ctl")"
}
# 16 MiB in 1 MiB reads, one at a time, checked against what was written.
read_some() {
  nbdsh -u "$uri" -c "
data = open('$LAB_DIR/data', 'rb').read()
for off in range(0, len(data), 1 << 20):
    assert h.pread(1 << 20, off) == data[off:off + (1 << 20)], 'differs at %d' % off
" || lab_die "reads differ from what was written"
}
# Reads that reach e1.1 and e2.1 while read_some runs: "E1 E2".
reads_during() {
  local a1 a2 b1 b2
  a1=$(shelf_reads e1.1) a2=$(shelf_reads e2.1)
  read_some
  b1=$(shelf_reads e1.1) b2=$(shelf_reads e2.1)
  echo "$((b1 - a1)) $((b2 - a2))"
}
expect_wm() {     # expect_wm true|false WHAT
  [ "$(status_json | jq -r '.members[0].writemostly')" = "$1" ] ||
    lab_die "$2: status --json says e1.1 writemostly is not $1: $(status_json)"
}
avoided() {       # WHAT: e1.1 write-mostly served no read, e2.1 all
  local r
  r=$(reads_during)
  [ "${r% *}" = 0 ] && [ "${r#* }" -gt 0 ] ||
    lab_die "$1: write-mostly e1.1 served reads (e1.1 e2.1: $r)"
  echo "ok: $1: reads e1.1 ${r% *}, e2.1 ${r#* }"
}

head -c 16M /dev/urandom >"$LAB_DIR/data"
plugin_start "$sock" shelves=e1.1,e2.1 level=1 name=wm writemostly=e1.1 control="$ctl"
wait_synced
w1=$(status_json | jq -r '.members[0].shelf.writes')
nbdcopy --flush "$LAB_DIR/data" "$uri"
[ "$(status_json | jq -r '.members[0].shelf.writes')" -gt "$w1" ] ||
  lab_die "writes did not reach write-mostly e1.1"
expect_wm true "writemostly=e1.1"
"$aoeraid" status -c "$ctl" | grep -Eq "^ +0 +e1.1 +active .*writemostly$" ||
  lab_die "status does not mark e1.1 writemostly: $("$aoeraid" status -c "$ctl")"
avoided "writemostly=e1.1"

out=$("$aoeraid" writemostly -c "$ctl" e1.1 off 2>&1) || lab_die "writemostly off: $out"
echo "ok: $out"
expect_wm false "writemostly off"
r=$(reads_during)
[ "${r% *}" -gt 0 ] || lab_die "writemostly off: no read reached e1.1 (e1.1 e2.1: $r)"
echo "ok: writemostly off: reads reach e1.1 again (e1.1 e2.1: $r)"
out=$("$aoeraid" writemostly -c "$ctl" e3.1 on 2>&1) && lab_die "e3.1, no member, was taken: $out"
grep -q "e3.1 is not a member" <<<"$out" || lab_die "writemostly e3.1: $out"
out=$("$aoeraid" writemostly -c "$ctl" e1.1 maybe 2>&1) && lab_die "'maybe' was taken: $out"
echo "ok: refused: a shelf not in the array, a word not on or off"
uuid=$(status_json | jq -r .uuid)
plugin_stop

# by name: off stays off (the superblocks recorded it); on again over the socket
plugin_start "$sock" name=wm control="$ctl"
expect_wm false "restart by name after off"
out=$("$aoeraid" writemostly -c "$ctl" e1.1 on 2>&1) || lab_die "writemostly on: $out"
expect_wm true "writemostly on"
avoided "writemostly on over the socket"
# every copy write-mostly: the answer does not promise other copies to read from
out=$("$aoeraid" writemostly -c "$ctl" e2.1 on 2>&1) || lab_die "writemostly e2.1 on: $out"
[ "$out" = "e2.1 is write-mostly, as is every other member: reads go to them all as if none were; set one off for reads to prefer it" ] ||
  lab_die "writemostly e2.1 on, e1.1 write-mostly too, answered: $out"
"$aoeraid" writemostly -c "$ctl" e2.1 off >/dev/null || lab_die "writemostly e2.1 off failed"
plugin_stop

lab_exec "$aoeraid" examine -i h0 e1.1 >"$LAB_DIR/ex.txt" || lab_die "examine: $(cat "$LAB_DIR/ex.txt")"
grep -q "role : slot 0, write-mostly" "$LAB_DIR/ex.txt" && grep -q "0 active (W)" "$LAB_DIR/ex.txt" ||
  lab_die "examine does not show e1.1 write-mostly: $(cat "$LAB_DIR/ex.txt")"
echo "ok: examine shows slot 0 write-mostly"

# by uuid, no writemostly=: kept
plugin_start "$sock" uuid="$uuid" control="$ctl"
expect_wm true "restart by uuid"
avoided "restarted by uuid"
plugin_stop

# by name, degraded: writemostly= naming the member that is down warns, and it starts
# (the scan's shelves stand for shelves=: a degraded array must not stay down for a
# read preference)
lab_kill 1
: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" name=wm writemostly=e1.1 control="$ctl" auto-readd=false
grep -q "writemostly: e1.1 is not in the array now" "$LAB_DIR/nbdkit.log" ||
  lab_die "no warning for the missing write-mostly e1.1: $(tail -n 5 "$LAB_DIR/nbdkit.log")"
cmp <(nbdcopy "$uri" - | head -c 16M) "$LAB_DIR/data" || lab_die "degraded read differs"
echo "ok: by name with e1.1 down and writemostly=e1.1: a warning, and it serves"
plugin_stop
echo "plugin-writemostly: passed"
