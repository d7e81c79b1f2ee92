#!/usr/bin/env bash
# Two arrays served from one head: two nbdkit aoeraid processes on the same interface
# (one MAC: both see every AoE reply to it, the shelves' reservations name the same host
# for both, each scan reads the other's superblocks).  alpha, a RAID1 on e1.1, e2.1, and
# beta, a RAID5 on e3.1..e5.1, each its own socket and control socket:
#  1. different random data written to both at once, read back while the other runs fio
#     verify: no cross-talk;
#  2. e1.1 killed (alpha's dead-time short): alpha degraded keeps serving, beta shows all
#     its members and its I/O passes; e1.1 back is re-added to alpha, not taken by beta;
#  3. both stopped, started again by name= alone: each assembles its own shelves, only;
#  4. a third process naming one of alpha's shelves (by shelves=, by name=, with
#     reserve=false) is refused with one line (the shelf is claimed by another process on
#     this host), writes nothing and releases nothing: alpha keeps its reservation and
#     serves its data; `aoeraid add` of alpha's shelf to beta is refused the same way;
#  5. alpha started in the background (nbdkit forks): a refusal names the forked server.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 90
. "$top_srcdir/tests/plugin-lib.sh"
command -v fio >/dev/null || lab_die "fio not found: run scripts/install-deps"

lab_up -n 6 -s 96M -m 9000
aoeraid=$top_builddir/aoeraid
sockA=$LAB_DIR/a.sock ctlA=$LAB_DIR/a.ctl logA=$LAB_DIR/a.log
sockB=$LAB_DIR/b.sock ctlB=$LAB_DIR/b.ctl logB=$LAB_DIR/b.log
uriA="nbd+unix:///?socket=$sockA" uriB="nbd+unix:///?socket=$sockB"
argsA=(level=1 name=alpha dead-time=1 bitmap-chunk=1M)
argsB=(level=5 chunk=64K name=beta dead-time=1 bitmap-chunk=1M)
# plugin_start keeps one PLUGIN_PID: each array its own, saved here.
startA() { PLUGIN_LOG=$logA plugin_start "$sockA" control="$ctlA" "$@"; pidA=$PLUGIN_PID; }
startB() { PLUGIN_LOG=$logB plugin_start "$sockB" control="$ctlB" "$@"; pidB=$PLUGIN_PID; }
stopA() { PLUGIN_PID=$pidA PLUGIN_SOCK=$sockA; plugin_stop; pidA=; }
stopB() { PLUGIN_PID=$pidB PLUGIN_SOCK=$sockB; plugin_stop; pidB=; }
st() { "$aoeraid" status -c "$1"; }
md5_of() { (set +o pipefail; nbdcopy "$1" - 2>/dev/null | head -c "$2" | md5sum); }
# SLOT NAME ... pairs all active in the status of CTL.
members_are() {
  local ctl=$1 what=$2 out
  shift 2
  out=$(st "$ctl")
  while [ $# -gt 0 ]; do
    grep -Eq "^ +$1 +$2 +active" <<<"$out" || lab_die "$what: $2 not active in slot $1: $out"
    shift 2
  done
  grep -q "state clean" <<<"$out" || lab_die "$what: not clean: $out"
}
# Every eS.S the status of CTL names: its shelves, sorted, one line.
shelves_of() { st "$1" | grep -o 'e[0-9]*\.[0-9]*' | sort -u | tr '\n' ' '; }
fio_opts=(--bsrange=4k-64k --offset=32M --size=16M --iodepth=16)

startA shelves=e1.1,e2.1 "${argsA[@]}"
startB shelves=e3.1,e4.1,e5.1 "${argsB[@]}"
members_are "$ctlA" "alpha at the start" 0 e1.1 1 e2.1
members_are "$ctlB" "beta at the start" 0 e3.1 1 e4.1 2 e5.1
echo "ok: alpha (raid1 e1.1,e2.1) and beta (raid5 e3.1-e5.1) served at once on h0"

# 1. Both written at once, each read back while the other is busy.
head -c 24M /dev/urandom >"$LAB_DIR/dataA"
head -c 24M /dev/urandom >"$LAB_DIR/dataB"
wantA=$(md5sum <"$LAB_DIR/dataA") wantB=$(md5sum <"$LAB_DIR/dataB")
nbdcopy --flush "$LAB_DIR/dataA" "$uriA" & cpA=$!
nbdcopy --flush "$LAB_DIR/dataB" "$uriB" & cpB=$!
lab_track "$cpA"; lab_track "$cpB"
wait "$cpA" || lab_die "nbdcopy into alpha failed"
wait "$cpB" || lab_die "nbdcopy into beta failed"
fio_verify "$uriB" fioB "${fio_opts[@]}" & fB=$!
lab_track "$fB"
[ "$(md5_of "$uriA" 24M)" = "$wantA" ] || lab_die "alpha read back (beta busy): data differs"
wait "$fB" || exit 1
fio_verify "$uriA" fioA "${fio_opts[@]}" & fA=$!
lab_track "$fA"
[ "$(md5_of "$uriB" 24M)" = "$wantB" ] || lab_die "beta read back (alpha busy): data differs"
wait "$fA" || exit 1
echo "ok: 24 MiB each written at once; each read back equal while fio verified the other"

# 2. e1.1 dies: alpha degraded serves on, beta untouched.
lab_kill 1
for _ in $(seq 300); do
  out=$(st "$ctlA")
  grep -q "state degraded" <<<"$out" && break
  nbdsh -u "$uriA" -c "h.pwrite(b'a' * 4096, 60 << 20); h.flush()" 2>/dev/null || true
  sleep 0.1
done
grep -q "state degraded" <<<"$out" || lab_die "alpha not degraded with e1.1 down: $out"
nbdsh -u "$uriA" -c "h.pwrite(b'b' * 65536, 40 << 20); h.flush()
assert h.pread(65536, 40 << 20) == b'b' * 65536" || lab_die "alpha degraded: I/O failed"
[ "$(md5_of "$uriA" 24M)" = "$wantA" ] || lab_die "alpha degraded: data differs"
members_are "$ctlB" "beta with alpha's e1.1 down" 0 e3.1 1 e4.1 2 e5.1
fio_verify "$uriB" fioB2 "${fio_opts[@]}"
[ "$(md5_of "$uriB" 24M)" = "$wantB" ] || lab_die "beta with e1.1 down: data differs"
grep -Ei "degraded|faulty|fenced|reservation" "$logB" && lab_die "beta's log: alpha's e1.1 touched it"
echo "ok: e1.1 killed: alpha degraded serves, beta clean with all members, its I/O verified"
lab_start 1
for _ in $(seq 300); do
  out=$(st "$ctlA")
  grep -Eq "^ +0 +e1.1 +active" <<<"$out" && ! grep -q recovery <<<"$out" && break
  sleep 0.1
done
members_are "$ctlA" "alpha after e1.1 came back" 0 e1.1 1 e2.1
[ "$(shelves_of "$ctlB")" = "e3.1 e4.1 e5.1 " ] || lab_die "beta took a shelf: $(st "$ctlB")"
echo "ok: e1.1 back: re-added to alpha; beta still on e3.1 e4.1 e5.1 only"

# 3. Both by name= alone (beta's scan while alpha serves): each its own shelves.
stopA
stopB
: >"$logA"; : >"$logB"
startA name=alpha dead-time=1 bitmap-chunk=1M
startB name=beta dead-time=1 bitmap-chunk=1M
grep -q "scan: array 'alpha' .* on e1.1, e2.1$" "$logA" ||
  lab_die "alpha by name: unexpected scan: $(grep scan: "$logA")"
grep -q "scan: array 'beta' .* on e3.1, e4.1, e5.1$" "$logB" ||
  lab_die "beta by name: unexpected scan: $(grep scan: "$logB")"
members_are "$ctlA" "alpha by name" 0 e1.1 1 e2.1
members_are "$ctlB" "beta by name" 0 e3.1 1 e4.1 2 e5.1
[ "$(shelves_of "$ctlA")" = "e1.1 e2.1 " ] || lab_die "alpha by name: $(st "$ctlA")"
[ "$(shelves_of "$ctlB")" = "e3.1 e4.1 e5.1 " ] || lab_die "beta by name: $(st "$ctlB")"
[ "$(md5_of "$uriA" 24M)" = "$wantA" ] || lab_die "alpha by name: data differs"
[ "$(md5_of "$uriB" 24M)" = "$wantB" ] || lab_die "beta by name: data differs"
echo "ok: restarted by name= alone: alpha on e1.1, e2.1, beta on e3.1-e5.1, data intact"

# 4. A third process naming alpha's e2.1 (with blank e6.1) while alpha runs.
sb2=$(dd if="${LAB_IMG[2]}" bs=4096 count=2 status=none | md5sum)
for args in "shelves=e2.1" "shelves=e6.1,e2.1 level=1 name=gamma" "name=alpha" \
            "shelves=e2.1 reserve=false"; do
  # shellcheck disable=SC2086 # args, split
  plugin_fails "a third process on alpha's e2.1 ($args)" \
    "^nbdkit: error: e[12].1 is claimed by process $pidA on this host, which holds its reservation" $args
done
out=$(lab_exec "$aoeraid" zero-superblock -i h0 e2.1 2>&1) && lab_die "zero of alpha's e2.1: $out"
out=$("$aoeraid" add -c "$ctlB" e2.1 2>&1) && lab_die "beta took alpha's e2.1 as a spare: $out"
grep -q "e2.1 is claimed by process $pidA on this host" <<<"$out" ||
  lab_die "aoeraid add of alpha's e2.1 to beta: unclear refusal: $out"
[ "$(dd if="${LAB_IMG[2]}" bs=4096 count=2 status=none | md5sum)" = "$sb2" ] ||
  lab_die "a refused process wrote alpha's superblock on e2.1"
# A release by a refused process would clear alpha's reservation: alpha would re-assert.
grep -Ei "lacks us|forgot our reservation|re-assert" "$logA" &&
  lab_die "a refused process released alpha's reservation of e2.1"
cmp -s -n 1048576 "${LAB_IMG[6]}" /dev/zero || lab_die "a refused process wrote blank e6.1"
members_are "$ctlA" "alpha after the refusals" 0 e1.1 1 e2.1
[ "$(md5_of "$uriA" 24M)" = "$wantA" ] || lab_die "alpha after the refusals: data differs"
echo "ok: a third process on alpha's e2.1 refused in one line; nothing written, alpha serves"
stopA
stopB

# 5. Without -f nbdkit forks after the start: the refusal names the process that serves.
ip netns exec "$LAB_NS" nbdkit -U "$sockA" -P "$LAB_DIR/bg.pid" "$AOERAID_PLUGIN" iface=h0 \
  discover-time=2 name=alpha 2>>"$logA" || lab_die "alpha did not start in the background"
for _ in $(seq 600); do [ -s "$LAB_DIR/bg.pid" ] && break; sleep 0.05; done
bg=$(cat "$LAB_DIR/bg.pid")
lab_track "$bg"
plugin_fails "alpha's e1.1 while alpha runs in the background" \
  "e1.1 is claimed by process $bg on this host" shelves=e1.1
kill -TERM "$bg"
for _ in $(seq 300); do lab_alive "$bg" || break; sleep 0.1; done
lab_alive "$bg" && lab_die "nbdkit $bg did not stop"
echo "plugin-two-arrays: passed"
