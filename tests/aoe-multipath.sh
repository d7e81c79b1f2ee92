#!/usr/bin/env bash
# Multipath: a shelf answering from two MACs through two local interfaces is one target
# with two paths; frames are spread over both; when one path stops answering its frames
# move to the other with no I/O error, and it is brought back when it answers again.
set -euo pipefail
. "$top_srcdir/tests/lab.sh"
lab_init 120

lab_up -n 1 -s 16M -m 9000 -p 2
out=$(lab_exec aoeraid discover)
echo "$out"
# Paths are listed in the order they answered: either interface may come first.
echo "$out" | grep >/dev/null -E '^e1\.1 .* (h0,h1|h1,h0) up [0-9a-f:]{17},[0-9a-f:]{17} ' ||
  lab_die "expected e1.1 with two paths over h0 and h1"
echo "ok: one shelf, two paths"

lab_bg c aoe-client -i h0 -i h1 -w 3000 -d 5000 1.1 info mark "$LAB_DIR/r" stream 6000 4000 \
  wait-paths 2 10000 random 9 100 3000 stream 1000 4000 stats >"$LAB_DIR/c.out" 2>&1
for _ in $(seq 600); do [ -e "$LAB_DIR/r" ] && break; sleep 0.05; done
sleep 1
ip -n "$LAB_NS" link set h1 down
sleep 2
ip -n "$LAB_NS" link set h1 up
wait "$c" || lab_die "I/O failed while a path went away: $(cat "$LAB_DIR/c.out")"
cat "$LAB_DIR/c.out"
grep -q "paths=2 up=1" "$LAB_DIR/c.out" || lab_die "client did not see two paths"
grep -q "via h1 stopped answering" "$LAB_DIR/c.out" || lab_die "path h1 was not declared down"
awk '/via h1 stopped answering/ {down=1} down && /via h1 is up/ {up=1} END {exit !up}' \
  "$LAB_DIR/c.out" || lab_die "path h1 did not come back"
stats=$(grep '^stats:' "$LAB_DIR/c.out")
for ifc in h0 h1; do
  echo "$stats" | grep >/dev/null -E "\[$ifc up=1 sent=[0-9]+ recv=[1-9][0-9]{2,} " ||
    lab_die "path $ifc carried no frames or is not up: $stats"
done
echo "ok: frames spread over both paths, moved off the silent one, and back when it answered"
echo "aoe-multipath: passed"
