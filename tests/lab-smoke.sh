#!/usr/bin/env bash
# The lab harness works: shelves answer a broadcast Query Config from the initiator
# namespace; kill, freeze/thaw, restart, impostor and netem do what they say; and
# everything is gone when a test ends, also when its time limit stops it.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 90

answers() { lab_exec lab-query "${1:-h0}" "${2:-700}" | awk '{print $1}' | sort | tr '\n' ' '; }
# A shelf that should answer may miss one window on a loaded machine: ask up to three
# times while answers are only missing.  An answer that should not come fails at once.
expect() {
  local got try shelf
  for try in 1 2 3; do
    got=$(answers "${3:-h0}" "${4:-700}" || true)
    [ "$got" = "$2" ] && { echo "ok: $1: $got"; return 0; }
    for shelf in $got; do
      [[ " $2" == *" $shelf "* ]] || lab_die "$1: expected shelves '$2', got '$got'"
    done
  done
  lab_die "$1: expected shelves '$2', got '$got' three times"
}

lab_up -n 3 -s 16M -m 9000
expect "3 shelves answer" "e1.1 e2.1 e3.1 "
# vblade offers (MTU-36)/512 sectors per frame: 17 at MTU 9000.  Counts of answers are
# taken over 2 s, not expect's 700 ms: they are not asked again, and a loaded machine
# may run a shelf or the relay late.
[ "$(lab_exec lab-query h0 2000 | grep -c "scnt=17$")" = 3 ] || lab_die "MTU 9000 not in effect"
echo "ok: MTU 9000, 17 sectors per frame"

lab_kill 2
expect "killed shelf is silent" "e1.1 e3.1 "
lab_start 2
sleep 0.3
expect "restarted shelf answers" "e1.1 e2.1 e3.1 "

lab_freeze 3
expect "frozen shelf is silent" "e1.1 e2.1 "
lab_thaw 3
sleep 0.3
expect "thawed shelf answers" "e1.1 e2.1 e3.1 "

lab_impostor 1 8M
sleep 0.3
[ "$(lab_exec lab-query h0 2000 | grep -c '^e1\.1 ')" = 2 ] ||
  lab_die "impostor: expected two MACs answering as e1.1"
echo "ok: impostor answers as e1.1 beside the real shelf"

lab_netem loss 100%
expect "netem loss 100% cuts the link" ""
lab_netem duplicate 100%
got=$(lab_exec lab-query h0 2000 | grep -c '^e2\.1 ' || true)
# Both the query and each reply are doubled: four answers from e2.1.
[ "$got" = 4 ] || lab_die "netem duplicate 100%: expected 4 answers from e2.1, got $got"
echo "ok: netem duplicate 100% doubles frames both ways"
lab_netem delay 400ms
expect "netem delay 400ms: nothing back within 300ms" "" h0 300
expect "netem delay 400ms: all back within 2s" "e1.1 e1.1 e2.1 e3.1 " h0 2000
lab_netem_clear
grep -q "dropped=[1-9]" "$LAB_DIR/netem.stats" || lab_die "netem relay counted no drops"
expect "netem cleared" "e1.1 e1.1 e2.1 e3.1 "

# A child test that overruns its limit is stopped and leaves nothing behind.  It names its
# prefix and directory before lab_up, since a loaded machine may stop it mid-way through
# lab_up: that must leave nothing behind either.
child=$LAB_DIR/child.sh
cat >"$child" <<CHILD
. "$top_srcdir/tests/lab.sh"
lab_init 5
echo "\$LAB_PREFIX \$LAB_DIR" >"$LAB_DIR/child.info"
lab_up -n 2 -s 8M
echo up >>"$LAB_DIR/child.info"
sleep 60
CHILD
set +e
bash "$child" 2>"$LAB_DIR/child.err"
crc=$?
set -e
[ "$crc" = 124 ] || lab_die "child over its limit exited $crc, expected 124: $(cat "$LAB_DIR/child.err")"
read -r cprefix cdir <"$LAB_DIR/child.info"
left=$(ip netns list | awk '{print $1}' | grep "^$cprefix-" || true)
[ -z "$left" ] || lab_die "child left namespaces: $left"
# Every shelf's disk lies in the child's directory: a vblade left running names it.
left=$(pgrep -af "$cdir/" || true)
[ -z "$left" ] || lab_die "child left processes running: $left"
[ ! -e "$cdir" ] || lab_die "child left its directory $cdir"
grep -q "^up$" "$LAB_DIR/child.info" || echo "note: the child was stopped before its lab was up"
echo "ok: a test stopped by its time limit leaves no namespace and no vblade"

echo "lab-smoke: passed"
