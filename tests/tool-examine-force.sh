#!/usr/bin/env bash
# examine's force command names the stale members assembly's force takes back, by the
# same rule (raid_force_prefers): RAID5 of e1.1-e3.1, the admin fails e2.1, then e3.1's
# shelf dies under writes and the array fails.  Both are stale; force takes e3.1 back
# and leaves e2.1 (failed by the administrator) out: examine's command names e1.1,e3.1,
# not e2.1, and the start with force=true takes exactly e3.1.  (hold-time=0: e3.1, which
# the array cannot do without, goes down at its dead time rather than being held.)
# Examined while the forced start serves it, the array looks in use (reserved).
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 180
. "$top_srcdir/tests/plugin-lib.sh"

lab_up -n 3 -s 16M
. "$top_srcdir/tests/plugin-rebuild-lib.sh"
rebuild_data 4M 0

plugin_start "$sock" shelves=e1.1,e2.1,e3.1 level=5 name=v control="$ctl" dead-time=1 hold-time=0
wait_clean "creation" 120
nbdcopy --flush "$LAB_DIR/data" "$uri"
ctl_ok fail e2.1
lab_kill 3
# the same bytes again, one request at a time (a client that drops the connection with
# requests in flight can abort nbdkit, whose error paths are not ours to test here)
nbdsh -u "$uri" -c "
data = open('$LAB_DIR/data', 'rb').read()
for off in range(0, len(data), 65536):
    try:
        h.pwrite(data[off:off + 65536], off)
    except nbd.Error:
        pass
" || lab_die "the writes with e3.1 gone lost the connection"
wait_status "state failed"
plugin_stop
lab_start 3

want_cmd="nbdkit aoeraid shelves=e1.1,e3.1 force=true"
out=$(lab_exec aoeraid examine -i h0)
grep -q "^  failed: .*: $want_cmd$" <<<"$out" || lab_die "examine's force command: $out"
# and no start without force: e1.1 alone would be refused (it gave shelves=e1.1)
grep -qx "  start: none without force: its fresh members are too few (failed: below)" <<<"$out" ||
  lab_die "examine's start line of a failed array: $out"
[ "$(lab_exec aoeraid examine -i h0 --json | jq -r '.arrays[0].force_command')" = "$want_cmd" ] ||
  lab_die "examine --json: force_command is not '$want_cmd'"
echo "ok: examine's force command takes e3.1 back, not e2.1 (failed by the administrator)"

: >"$LAB_DIR/nbdkit.log"
plugin_start "$sock" shelves=e1.1,e2.1,e3.1 name=v force=true control="$ctl"
grep -q "member e3.1 (slot 2, events [0-9]*) taken back (force)" "$LAB_DIR/nbdkit.log" ||
  lab_die "e3.1 not taken back: $(grep -v ' aoe: ' "$LAB_DIR/nbdkit.log")"
grep -q "member e2\.1 .* taken back (force)" "$LAB_DIR/nbdkit.log" &&
  lab_die "force took e2.1 (failed by the administrator) back too"
[ "$(readback)" = "$want" ] || lab_die "force=true: the data differs"
# Examined while this head serves it (degraded, e2.1 failed; dirty while open): the
# shelves are reserved, and examine says the array looks in use, the head to stop first,
# before its write-hole line calls for force=true (which stands for a head gone down
# holding the reservation: the shelf cannot tell which).
out=$(lab_exec aoeraid examine -i h0)
grep -Eq "^  reserved: by ([0-9a-f]{2}:){5}[0-9a-f]{2}: the array looks in use, a head serving it: stop it first" <<<"$out" ||
  lab_die "examine of the running array does not say it looks in use: $out"
[ "$(grep -E -m1 "^  (reserved|degraded|start):" <<<"$out" | cut -d: -f1)" = "  reserved" ] ||
  lab_die "examine of the running array: the reserved line is not first: $out"
json=$(lab_exec aoeraid examine -i h0 --json)
jq -e '.arrays[0].reserved_by | test("^([0-9a-f]{2}:){5}[0-9a-f]{2}$")' <<<"$json" >/dev/null ||
  lab_die "examine --json of the running array: no reserved_by: $json"
echo "ok: examine of the running array says it looks in use (reserved by the head)"
plugin_stop
echo "ok: force=true took e3.1 back as examine said; the data reads back"
echo "tool-examine-force: passed"
